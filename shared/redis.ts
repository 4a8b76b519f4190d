import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';

export type RedisClient = Redis | Cluster;

/**
 * `producer` connections (API, publishers) fail fast: no offline queue, one retry, short
 * timeouts, so a request answers 503 at once when Redis is gone instead of hanging.
 * `worker` connections wait: BullMQ needs `maxRetriesPerRequest: null` and reconnects forever.
 */
export type Role = 'producer' | 'worker';

function options(role: Role, name: string): RedisOptions {
  const common: RedisOptions = {
    connectionName: `relayq:${name}`,
    lazyConnect: true,
    connectTimeout: 3000,
    // Reconnect forever with a capped backoff; callers decide whether to wait.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  return role === 'producer'
    ? { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000 }
    : { ...common, maxRetriesPerRequest: null, enableReadyCheck: true };
}

export function createRedis(config: Config, role: Role, name: string): RedisClient {
  const opts = options(role, name);
  if (config.REDIS_CLUSTER_NODES.length > 0) {
    const nodes = config.REDIS_CLUSTER_NODES.map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
    });
    return new Cluster(nodes, {
      lazyConnect: true,
      enableOfflineQueue: role === 'worker',
      redisOptions: opts,
      clusterRetryStrategy: opts.retryStrategy,
    });
  }
  return new Redis(config.REDIS_URL, opts);
}

/** Connects and checks the server answers; rejects with a readable reason when it does not. */
export async function connect(redis: RedisClient, url: string): Promise<void> {
  try {
    if (redis.status === 'wait') await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Redis unreachable at ${redactUrl(url)}: ${reason}`, { cause: err });
  }
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** Closes a connection, waiting for pending replies when it is still up. */
export async function close(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
