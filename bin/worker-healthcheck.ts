import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../shared/config.js';
import { close, connect, createRedis, redisTarget } from '../shared/redis.js';

/**
 * The worker container's health check (docker-compose.yml): exits 0 when a Redis connection
 * named `relayq:worker` comes from this container's address, i.e. the worker process is alive
 * and connected (a connection closes when its process dies); else exits 1 with one line on
 * stderr. Run inside the worker's container as `node --import tsx bin/worker-healthcheck.ts`.
 */
async function check(config: Config): Promise<void> {
  const redis = createRedis(config, 'producer', 'healthcheck');
  await connect(redis, redisTarget(config));
  try {
    const nodes: Redis[] = 'nodes' in redis ? redis.nodes('master') : [redis];
    for (const node of nodes) {
      // This connection comes from the container's address, as the worker's do.
      const mine = hostOf(String(await node.client('INFO')));
      const list = String(await node.client('LIST')).split('\n');
      if (list.some((line) => /\bname=relayq:worker(\s|$)/.test(line) && hostOf(line) === mine)) return;
    }
    throw new Error('no relayq:worker connection from this container: the worker is not running or lost Redis');
  } finally {
    await close(redis);
  }
}

/** The client host of a CLIENT INFO/LIST line (`addr=10.0.0.5:51234` → `10.0.0.5`). */
const hostOf = (line: string) => /\baddr=(\S+):\d+/.exec(line)?.[1] ?? null;

check(loadConfig()).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`relayq worker healthcheck: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
