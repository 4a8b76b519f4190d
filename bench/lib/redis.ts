import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep, startLasting, type Child } from './procs.js';

/** A free TCP port on 127.0.0.1: the one the test support asks the kernel for. */
export { freePort } from '../../test/support/redis.js';
import { freePort } from '../../test/support/redis.js';

/** The harness's own redis-server: its URL, a client for inspection, and how to stop it. */
export interface BenchRedis {
  url: string;
  port: number;
  /** A plain client for the harness (FLUSHALL between figures, INFO, MEMORY USAGE). */
  client: Redis;
  version: string;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` from PATH on a free port: no persistence (nothing the figures measure
 * depends on disk speed), `noeviction` as relayq requires, `hash-max-listpack-value 2048` as
 * docker-compose.yml and npm start's own Redis set (task records stay compact listpacks), data in a
 * temporary folder removed on stop.
 * @throws when redis-server is not on PATH or does not answer within 10 s.
 */
export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'relayq-bench-redis-'));
  let child: Child;
  try {
    child = startLasting('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction', '--hash-max-listpack-value', '2048']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot start redis-server (is it installed? apt install redis-server): ${(err as Error).message}`, { cause: err });
  }
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await client
      .connect()
      .then(() => client.ping())
      .then(() => true)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await child.stop(0);
      throw new Error(`redis-server on port ${port} did not answer:\n${child.output()}`);
    }
    client.disconnect();
    await sleep(50);
  }
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    url,
    port,
    client,
    version,
    async stop() {
      client.disconnect();
      await child.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
