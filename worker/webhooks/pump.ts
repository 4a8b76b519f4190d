import type { Config } from '../../shared/config.js';
import { TASK_QUEUES } from '../../shared/families/catalog.js';
import { globalKeys, keyspace, placements } from '../../shared/keys.js';
import { createLockedLoop } from '../../shared/loop.js';
import type { Logger } from '../../shared/logger.js';
import type { Queues } from '../../shared/queues.js';
import type { RedisClient } from '../../shared/redis.js';


/**
 * Turns tasks whose webhook events are due into `webhook.deliver` jobs. One worker pumps per
 * tick (a Redis lock); the job id `wh-<taskId>` keeps one delivery job per task at a time.
 */
export function createWebhookPump(deps: { config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_SHARDS' | 'WEBHOOK_POLL_MS'>; redis: RedisClient; queues: Queues; log: Logger; jobOptions: object }) {
  const { config, redis } = deps;
  return createLockedLoop({
    redis,
    lockKey: globalKeys(config.QUEUE_PREFIX).webhookPumpLock,
    intervalMs: config.WEBHOOK_POLL_MS,
    log: deps.log,
    name: 'webhook pump',
    async tick() {
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
    },
  });
}
