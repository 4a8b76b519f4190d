import { mjUpstream, openaiUpstream, type Config } from '../shared/config.js';
import { webhookDeliver } from '../shared/jobs/webhook-deliver.js';
import type { Logger } from '../shared/logger.js';
import { isMain, runMain } from '../shared/process.js';
import { createQueues } from '../shared/queues.js';
import { close, connect, createRedis, redisTarget } from '../shared/redis.js';
import { createSignals } from '../shared/signals.js';
import { createTaskStore } from '../shared/tasks/store.js';
import { createDispatcher, type Processors } from './dispatch.js';
import { createMjSeed } from './jobs/mj-seed.js';
import { createMjSubmit } from './jobs/mj-submit.js';
import { createOpenAiModels, createOpenAiRequest } from './jobs/openai.js';
import { createWebhookDeliver } from './jobs/webhook-deliver.js';
import { createMjTracker } from './mj-tracker.js';
import { createMjClient, type MjClient } from './upstream/mj-client.js';
import { createOpenAiClient } from './upstream/openai-client.js';
import { createWebhookPump } from './webhooks/pump.js';

/** The worker role: BullMQ workers for WORKER_QUEUES plus the MJ tracker. */
export async function startWorker(config: Config, log: Logger): Promise<() => Promise<void>> {
  if (config.API_KEYS.length === 0 && config.ADMIN_KEYS.length === 0) {
    throw new Error('API_KEYS is empty: set the same tenant:secret pairs as the API');
  }
  const redis = createRedis(config, 'worker', 'worker');
  const sub = createRedis(config, 'worker', 'worker-sub');
  try {
    await connect(redis, redisTarget(config));
    await connect(sub, redisTarget(config));
  } catch (err) {
    await close(sub);
    await close(redis);
    throw err;
  }
  const queues = createQueues({ redis, prefix: config.QUEUE_PREFIX, shards: config.QUEUE_SHARDS });
  const store = createTaskStore({ redis, queues, config });
  const signals = createSignals({ pub: redis, sub });

  const upstream = mjUpstream(config);
  const mjDefault = upstream ? createMjClient(upstream, config.UPSTREAM_TIMEOUT_SECONDS * 1000, log.child({ component: 'mj-client' })) : null;
  const mjClient = (name: string | null): MjClient | null => (name === null || name === mjDefault?.channel.name ? mjDefault : null);

  const oa = openaiUpstream(config);
  const openai = oa ? createOpenAiClient(oa, config.UPSTREAM_TIMEOUT_SECONDS * 1000) : null;
  const unset = [
    !mjDefault && config.WORKER_QUEUES.includes('mj') && 'MJ_UPSTREAM_URL',
    !openai && config.WORKER_QUEUES.some((q) => q === 'text' || q === 'image' || q === 'audio') && 'OPENAI_UPSTREAM_URL',
  ].filter(Boolean);
  if (unset.length > 0) log.warn({ unset }, 'NO UPSTREAM CONFIGURED: tasks for the upstreams in "unset" fail at once until those variables are set');
  const openaiDeps = { store, redis, prefix: config.QUEUE_PREFIX, client: () => openai, tokensTtlSeconds: 3600 };
  const openaiRequest = createOpenAiRequest(openaiDeps);

  const tracker = createMjTracker({ config, redis, store, log: log.child({ component: 'mj-tracker' }), client: mjClient });
  const processors: Processors = {
    'mj.submit': createMjSubmit({ store, tracker, client: mjClient }),
    'mj.seed': createMjSeed({ store, signals, prefix: config.QUEUE_PREFIX, client: mjClient }),
    'text.request': openaiRequest,
    'image.request': openaiRequest,
    'audio.request': openaiRequest,
    'openai.models': createOpenAiModels(openaiDeps),
    'webhook.deliver': createWebhookDeliver({ config, redis, store, log: log.child({ component: 'webhooks' }), publicUrl: config.PUBLIC_URL || `http://${config.HOST}:${config.PORT}` }),
  };
  const pump = createWebhookPump({ config, redis, queues, log: log.child({ component: 'webhook-pump' }), jobOptions: webhookDeliver.options(config) });
  const dispatcher = createDispatcher({ config, log, connection: redis, store, signals, processors });
  await dispatcher.start(config.WORKER_QUEUES);
  if (config.WORKER_QUEUES.includes('mj')) tracker.start();
  if (config.WORKER_QUEUES.includes('webhook')) pump.start();

  return async () => {
    await tracker.stop();
    await pump.stop();
    await dispatcher.close(config.SHUTDOWN_GRACE_SECONDS * 1000);
    await signals.close();
    await queues.close();
    await close(sub);
    await close(redis);
  };
}

if (isMain(import.meta.url)) {
  void runMain('worker', startWorker);
}
