import { createChannelRegistry, reloadChannels, type ChannelRegistry } from '../shared/channels/registry.js';
import { createChannelState } from '../shared/channels/state.js';
import type { Config } from '../shared/config.js';
import { webhookDeliver } from '../shared/jobs/webhook-deliver.js';
import { globalKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { isMain, runMain, type RunningRole } from '../shared/process.js';
import { createQueues } from '../shared/queues.js';
import { close, connect, createRedis, redisTarget } from '../shared/redis.js';
import { createSignals } from '../shared/signals.js';
import { createTaskStore } from '../shared/tasks/store.js';
import { warnKeylessChannels } from './channels/keyless.js';
import { createProber } from './channels/prober.js';
import { createRouter } from './channels/router.js';
import { createChannelRunner } from './channels/run.js';
import { createDispatcher, type Processors } from './dispatch.js';
import { createMjSeed } from './jobs/mj-seed.js';
import { createMjSubmit } from './jobs/mj-submit.js';
import { createOpenAiModels, createOpenAiRequest } from './jobs/openai.js';
import { createWebhookDeliver } from './jobs/webhook-deliver.js';
import { createMjTracker } from './mj-tracker.js';
import { createClients } from './upstream/clients.js';
import { createWebhookPump } from './webhooks/pump.js';

/**
 * The worker role: BullMQ workers for WORKER_QUEUES, the MJ tracker, the webhook pump and the
 * channel prober. `registry` is the channel set to use (single-node mode shares one with the
 * API); by default the configuration's.
 */
export async function startWorker(config: Config, log: Logger, opts: { registry?: ChannelRegistry } = {}): Promise<RunningRole> {
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

  const registry = opts.registry ?? createChannelRegistry(config.channels);
  const channelState = createChannelState({ redis, prefix: config.QUEUE_PREFIX });
  const channels = createChannelRunner({ registry, state: channelState, router: createRouter({ registry, state: channelState }) });
  const clients = createClients({ defaultTimeoutSeconds: config.UPSTREAM_TIMEOUT_SECONDS, answerWaitSeconds: config.SYNC_WAIT_SECONDS, log: log.child({ component: 'upstream' }) });
  const mjClient = (name: string) => {
    const channel = registry.get(name);
    return channel ? clients.mj(channel) : null;
  };
  const unset = [
    registry.ofType('mj').length === 0 && config.WORKER_QUEUES.includes('mj') && 'mj',
    registry.ofType('openai').length === 0 && config.WORKER_QUEUES.some((q) => q === 'text' || q === 'image' || q === 'audio') && 'openai',
  ].filter(Boolean);
  if (unset.length > 0) {
    log.warn({ unset }, 'NO UPSTREAM CONFIGURED: tasks of these types fail at once until a channel serves them (UPSTREAMS_FILE, or MJ_UPSTREAM_URL / OPENAI_UPSTREAM_URL)');
  }
  warnKeylessChannels(registry.all(), log);
  registry.onReload(() => warnKeylessChannels(registry.all(), log));
  const openaiDeps = { store, redis, prefix: config.QUEUE_PREFIX, channels, clients, tokensTtlSeconds: 3600 };
  const openaiRequest = createOpenAiRequest(openaiDeps);

  const tracker = createMjTracker({ config, redis, store, log: log.child({ component: 'mj-tracker' }), client: mjClient });
  const processors: Processors = {
    'mj.submit': createMjSubmit({ store, tracker, channels, clients }),
    'mj.seed': createMjSeed({ store, signals, prefix: config.QUEUE_PREFIX, channels, clients }),
    'text.request': openaiRequest,
    'image.request': openaiRequest,
    'audio.request': openaiRequest,
    'openai.models': createOpenAiModels({ ...openaiDeps, registry, log: log.child({ component: 'models' }) }),
    'webhook.deliver': createWebhookDeliver({ config, redis, store, log: log.child({ component: 'webhooks' }), publicUrl: config.PUBLIC_URL || `http://${config.HOST}:${config.PORT}` }),
  };
  const pump = createWebhookPump({ config, redis, queues, log: log.child({ component: 'webhook-pump' }), jobOptions: webhookDeliver.options(config) });
  const prober = createProber({
    redis,
    lockKey: globalKeys(config.QUEUE_PREFIX).proberLock,
    registry,
    state: channelState,
    probes: { mj: (c) => clients.mj(c).listByCondition([]), openai: (c) => clients.openai(c).models() },
    log: log.child({ component: 'channel-prober' }),
  });
  const dispatcher = createDispatcher({ config, log, connection: redis, store, signals, processors });
  await dispatcher.start(config.WORKER_QUEUES);
  if (config.WORKER_QUEUES.includes('mj')) tracker.start();
  if (config.WORKER_QUEUES.includes('webhook')) pump.start();
  prober.start();

  const stop = async () => {
    await prober.stop();
    await tracker.stop();
    await pump.stop();
    await dispatcher.close(config.SHUTDOWN_GRACE_SECONDS * 1000);
    await signals.close();
    await queues.close();
    await close(sub);
    await close(redis);
  };
  return { stop, reload: () => reloadChannels(config, registry, log) };
}

if (isMain(import.meta.url)) {
  void runMain('worker', startWorker);
}
