import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Socket } from 'node:net';

/** The socket of a connection (TCP, or TLS over it). */
type NetStream = Socket;
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

/** Connections whose socket writes are already coalesced (see coalesceWrites). */
const coalesced = new WeakSet<object>();

/**
 * Makes a connection send the commands issued within one tick of the event loop in one socket
 * write: its socket is corked at the first write of a tick and uncorked at the end of it (the
 * usual `cork()`, then `uncork()` in `process.nextTick`). Commands and replies stay in order;
 * nothing waits longer than the tick that issued it. A busy process that runs many jobs at once
 * issues several commands per tick, and each write is a system call. For a Cluster, every node
 * connection, present and future.
 */
export function coalesceWrites(redis: RedisClient): void {
  if (redis instanceof Cluster) {
    for (const node of redis.nodes()) coalesceWrites(node);
    redis.on('+node', (node: Redis) => coalesceWrites(node));
    return;
  }
  const patch = () => {
    const socket = redis.stream as NetStream | undefined;
    if (!socket || coalesced.has(socket)) return;
    coalesced.add(socket);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    let corked = false;
    const flush = () => {
      corked = false;
      socket.uncork();
    };
    socket.write = ((...args: unknown[]) => {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(flush);
      }
      return write(...args);
    }) as typeof socket.write;
  };
  patch();
  // A reconnection brings a new socket.
  redis.on('connect', patch);
}

/** What a Redis config points at, for messages: the cluster seeds or REDIS_URL. */
export const redisTarget = (config: Config) => (config.REDIS_CLUSTER_NODES.length > 0 ? `cluster ${config.REDIS_CLUSTER_NODES.join(',')}` : config.REDIS_URL);

/** Redis did not answer at start-up; the message is one line with the real cause and no password. */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`Redis unreachable at ${redactUrl(url)}: ${oneLine(cause)}`, { cause });
  }
}

/**
 * Connects and checks the server answers; rejects with a RedisUnreachableError naming the real
 * cause (`connect ECONNREFUSED 127.0.0.1:6379`, `getaddrinfo ENOTFOUND redis`, `WRONGPASS …`).
 */
export async function connect(redis: RedisClient, url: string): Promise<void> {
  // ioredis reports the cause only as an 'error' event (printed with a stack trace when nobody
  // listens) and rejects connect() with a bare "Connection is closed.".
  let cause: unknown = null;
  const onError = (err: unknown) => {
    cause ??= err;
  };
  redis.on('error', onError);
  try {
    if (redis.status === 'wait') await redis.connect();
    await redis.ping();
  } catch (err) {
    // The listener stays: a dead client must not print a late error either.
    redis.disconnect();
    throw new RedisUnreachableError(url, cause ?? err);
  }
  redis.off('error', onError);
}

/** An error as one line of text, without any Redis password it might quote. */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return redactUrl(text).replace(/\s*\n\s*/g, ' ').trim() || 'no reason given';
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** Closes a connection, waiting for pending replies when it is still up. */
export async function close(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  // A client that never connected: quit() would first try to connect.
  if (redis.status === 'wait') return redis.disconnect();
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
