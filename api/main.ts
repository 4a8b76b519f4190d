import type { AddressInfo } from 'node:net';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { createChannelRegistry, reloadChannels, type ChannelRegistry } from '../shared/channels/registry.js';
import { isMain, listenError, runMain, type RunningRole } from '../shared/process.js';
import { createQueues } from '../shared/queues.js';
import { close, connect, createRedis, redisTarget } from '../shared/redis.js';
import { createMetricsRecorder } from '../shared/metrics.js';
import { createSignals } from '../shared/signals.js';
import { openCheckedBlobStore, type BlobStore } from '../shared/blobs.js';
import { createTaskStore } from '../shared/tasks/store.js';
import { buildApp } from './app.js';

export interface RunningApi extends RunningRole {
  url: string;
  /** Every route as `METHOD /path` (HEAD copies left out). */
  routes(): string[];
}

/**
 * The API role: opens its connections, listens, and closes them in reverse order on stop.
 * `registry` is the channel set to show admins (single-node mode shares the workers').
 */
export async function startApi(config: Config, log: Logger, opts: { registry?: ChannelRegistry } = {}): Promise<RunningApi> {
  const registry = opts.registry ?? createChannelRegistry(config.channels);
  if (config.API_KEYS.length === 0 && config.ADMIN_KEYS.length === 0) {
    throw new Error('API_KEYS is empty: set comma-separated tenant:secret pairs (npm start generates one for single-node use)');
  }
  const redis = createRedis(config, 'producer', 'api');
  const sub = createRedis(config, 'worker', 'api-sub');
  const closeRedis = async () => {
    await close(sub);
    await close(redis);
  };
  let blobs: BlobStore;
  try {
    await connect(redis, redisTarget(config));
    await connect(sub, redisTarget(config));
    blobs = await openCheckedBlobStore({ redis, config, log });
  } catch (err) {
    await closeRedis();
    throw err;
  }
  // Nothing is written to Redis before the port is bound: queues are created on first use.
  const queues = createQueues({ redis, prefix: config.QUEUE_PREFIX, shards: config.QUEUE_SHARDS });
  const metrics = createMetricsRecorder({ redis, prefix: config.QUEUE_PREFIX, log });
  const store = createTaskStore({ redis, queues, config, metrics, blobs });
  const signals = createSignals({ pub: redis, sub });
  const app = await buildApp({ config, log, redis, store, queues, signals, registry, metrics, blobs });
  const stop = async () => {
    await app.close();
    await metrics.close();
    await signals.close();
    await queues.close();
    await blobs.close?.();
    await closeRedis();
  };
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (err) {
    await stop();
    throw listenError(err, config.HOST, config.PORT, 'PORT');
  }
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
  log.info({ url }, 'api listening');
  return { url, stop, reload: () => reloadChannels(config, registry, log), routes: () => app.routeList() };
}

if (isMain(import.meta.url)) {
  void runMain('api', (config, log) => startApi(config, log));
}
