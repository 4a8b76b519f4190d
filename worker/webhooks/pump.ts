import { randomUUID } from 'node:crypto';
import type { Config } from '../../shared/config.js';
import { globalKeys, keyspace, placements } from '../../shared/keys.js';
import type { Logger } from '../../shared/logger.js';
import type { Queues } from '../../shared/queues.js';
import type { RedisClient } from '../../shared/redis.js';

const TASK_QUEUES = ['mj', 'text', 'image', 'audio'] as const;

/**
 * Turns tasks whose webhook events are due into `webhook.deliver` jobs. One worker pumps per
 * tick (a Redis lock); the job id `wh-<taskId>` keeps one delivery job per task at a time.
 */
export function createWebhookPump(deps: { config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_SHARDS' | 'WEBHOOK_POLL_MS'>; redis: RedisClient; queues: Queues; log: Logger; jobOptions: object }) {
  const { config, redis, log } = deps;
  const owner = randomUUID();
  const lock = globalKeys(config.QUEUE_PREFIX).webhookPumpLock;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  async function tick() {
    if ((await redis.set(lock, owner, 'PX', config.WEBHOOK_POLL_MS, 'NX')) !== 'OK') return;
    const now = Date.now();
    for (const queue of TASK_QUEUES) {
      for (const p of placements(queue, config.QUEUE_SHARDS)) {
        const due = await redis.zrangebyscore(keyspace(config.QUEUE_PREFIX, p).webhookDue, '-inf', now, 'LIMIT', 0, 1000);
        for (const taskId of due) {
          // A job already there (running, or not yet removed) makes this a no-op.
          await deps.queues.get({ queue: 'webhook', shard: p.shard }).add('webhook.deliver', { taskId }, { ...deps.jobOptions, jobId: `wh-${taskId}` });
        }
      }
    }
  }

  const loop = () => {
    if (stopped) return;
    running = tick()
      .catch((err: unknown) => log.warn({ err }, 'webhook pump tick failed'))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(loop, config.WEBHOOK_POLL_MS);
      });
  };

  return {
    tick,
    start() {
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
