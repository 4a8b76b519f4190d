import { createChannelRegistry, reloadChannels, type ChannelRegistry } from '../shared/channels/registry.js';
import { createChannelState } from '../shared/channels/state.js';
import type { Config } from '../shared/config.js';
import { webhookDeliver } from '../shared/jobs/webhook-deliver.js';
import { globalKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { isMain, runMain, type RunningRole } from '../shared/process.js';
import { createQueues } from '../shared/queues.js';
import { close, coalesceWrites, connect, createRedis, redisTarget } from '../shared/redis.js';
import { createMetricsRecorder } from '../shared/metrics.js';
import { createSignals } from '../shared/signals.js';
import { openCheckedBlobStore, type BlobStore } from '../shared/blobs.js';
import { createLockedLoop } from '../shared/loop.js';
import { createTaskStore } from '../shared/tasks/store.js';
import { warnKeylessChannels } from './channels/keyless.js';
import { createProber } from './channels/prober.js';
import { createRouter } from './channels/router.js';
import { createChannelRunner } from './channels/run.js';
import { createDispatcher, type Processors } from './dispatch.js';
import { loadWorkerFamilies } from './families/load.js';
import type { WorkerFamilyParts } from './families/types.js';
import { createWebhookDeliver } from './jobs/webhook-deliver.js';
import { createTracker, type Tracker } from './tracker.js';
import { createArchiver } from './archive.js';
import { createWebhookPump } from './webhooks/pump.js';
import { createEnqueue } from '../shared/jobs/enqueue.js';
import { jobKinds } from '../shared/jobs/registry.js';
import { FAMILIES } from '../shared/families/catalog.js';
import { createTokenStreams } from '../shared/protocols/tokens.js';

/** How often one worker deletes the stored objects of expired tasks (ms). */
const BLOB_SWEEP_INTERVAL_MS = 60_000;

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
  let blobs: BlobStore;
  try {
    await connect(redis, redisTarget(config));
    await connect(sub, redisTarget(config));
    // Jobs run many at once: the commands they issue in one tick go out in one write.
    coalesceWrites(redis);
    blobs = await openCheckedBlobStore({ redis, config, log });
  } catch (err) {
    await close(sub);
    await close(redis);
    throw err;
  }
  const queues = createQueues({ redis, prefix: config.QUEUE_PREFIX, shards: config.QUEUE_SHARDS });
  const metrics = createMetricsRecorder({ redis, prefix: config.QUEUE_PREFIX, log });
  const store = createTaskStore({ redis, queues, config, metrics, blobs });
  const signals = createSignals({ pub: redis, sub });

  const registry = opts.registry ?? createChannelRegistry(config.channels);
  const channelState = createChannelState({ redis, prefix: config.QUEUE_PREFIX });
  const channels = createChannelRunner({ registry, state: channelState, router: createRouter({ registry, state: channelState }), metrics });
  const unset = FAMILIES.filter((f) => registry.ofType(f.channelType).length === 0 && f.queues.some((q) => config.WORKER_QUEUES.includes(q.name))).map((f) => f.name);
  if (unset.length > 0) {
    log.warn({ unset }, 'NO UPSTREAM CONFIGURED: tasks of these families fail at once until a channel serves them (UPSTREAMS_FILE, or MJ_UPSTREAM_URL / OPENAI_UPSTREAM_URL)');
  }
  warnKeylessChannels(registry.all(), log);
  registry.onReload(() => warnKeylessChannels(registry.all(), log));

  // Every family of the catalog brings its processors, its tracker adapter and its probe.
  const trackers = new Map<string, Tracker>();
  const publicUrl = config.PUBLIC_URL || `http://${config.HOST}:${config.PORT}`;
  const archiver = config.ARCHIVE_OUTPUTS ? createArchiver({ store, redis, prefix: config.QUEUE_PREFIX, config, publicUrl }) : null;
  if (archiver && !config.PUBLIC_URL) {
    log.warn({ publicUrl }, 'ARCHIVE_OUTPUTS without PUBLIC_URL: archived files are named after this address; set PUBLIC_URL to the API as clients reach it');
  }
  const trackerDeps = { config, redis, store, registry, log: log.child({ component: 'tracker' }), archiver, channelState };
  const parts = new Map<string, WorkerFamilyParts>();
  for (const family of await loadWorkerFamilies()) {
    const made = family.create({
      config,
      log: log.child({ family: family.name }),
      redis,
      store,
      signals,
      channels,
      registry,
      tokens: createTokenStreams({ redis, prefix: config.QUEUE_PREFIX }),
      archiver,
      enqueue: createEnqueue({ queues, config }),
      tracker: () => {
        const t = trackers.get(family.name);
        if (!t) throw new Error(`family ${family.name} has no tracker adapter`);
        return t;
      },
    });
    parts.set(family.name, made);
    if (made.tracker) trackers.set(family.name, createTracker(trackerDeps, made.tracker));
  }
  const processors = collectProcessors([...parts.values()].map((p) => p.processors), {
    'webhook.deliver': createWebhookDeliver({ config, redis, store, log: log.child({ component: 'webhooks' }), publicUrl, metrics }),
  });
  const pump = createWebhookPump({ config, redis, queues, log: log.child({ component: 'webhook-pump' }), jobOptions: webhookDeliver.options(config) });
  const probes = Object.fromEntries(FAMILIES.flatMap((f) => (parts.get(f.name)?.probe ? [[f.channelType, parts.get(f.name)!.probe!] as const] : [])).reverse());
  const prober = createProber({
    redis,
    lockKey: globalKeys(config.QUEUE_PREFIX).proberLock,
    registry,
    state: channelState,
    probes,
    log: log.child({ component: 'channel-prober' }),
  });
  const dispatcher = createDispatcher({ config, log, connection: redis, store, signals, processors });
  await dispatcher.start(config.WORKER_QUEUES);
  // A family's tracker runs on the workers that serve its queues.
  const running = FAMILIES.filter((f) => f.queues.some((q) => config.WORKER_QUEUES.includes(q.name))).flatMap((f) => trackers.get(f.name) ?? []);
  for (const t of running) t.start();
  if (config.WORKER_QUEUES.includes('webhook')) pump.start();
  prober.start();
  // Objects of expired tasks are deleted by one worker at a time (stores whose blobs expire by themselves have no sweep).
  const sweep = blobs.sweep?.bind(blobs);
  const sweeper = sweep
    ? createLockedLoop({
        redis,
        lockKey: globalKeys(config.QUEUE_PREFIX).blobSweepLock,
        intervalMs: BLOB_SWEEP_INTERVAL_MS,
        log,
        name: 'blob sweep',
        async tick() {
          const tasks = await sweep();
          if (tasks > 0) log.info({ tasks }, 'deleted the stored objects of expired tasks');
        },
      })
    : null;
  sweeper?.start();

  const stop = async () => {
    await sweeper?.stop();
    await prober.stop();
    await Promise.all(running.map((t) => t.stop()));
    await pump.stop();
    await dispatcher.close(config.SHUTDOWN_GRACE_SECONDS * 1000);
    await metrics.close();
    await signals.close();
    await queues.close();
    await blobs.close?.();
    await close(sub);
    await close(redis);
  };
  return { stop, reload: () => reloadChannels(config, registry, log) };
}

/**
 * The processor map: each job kind's, from the families and the core. Throws at start when a job
 * kind of the catalog has no processor, or two.
 */
function collectProcessors(fromFamilies: WorkerFamilyParts['processors'][], core: WorkerFamilyParts['processors']): Processors {
  const out: Record<string, unknown> = {};
  for (const set of [...fromFamilies, core]) {
    for (const [name, processor] of Object.entries(set)) {
      if (out[name]) throw new Error(`job kind ${name} has two processors`);
      out[name] = processor;
    }
  }
  const missing = Object.keys(jobKinds).filter((k) => !out[k]);
  if (missing.length > 0) throw new Error(`no processor for job kinds: ${missing.join(', ')}`);
  return out as Processors;
}

if (isMain(import.meta.url)) {
  void runMain('worker', startWorker);
}
