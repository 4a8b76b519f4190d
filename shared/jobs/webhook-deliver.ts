import { z } from 'zod';
import { defineJob } from './contract.js';

/**
 * Delivers the pending webhook events of one task, in order (job id `wh-<taskId>`: at most one
 * per task at a time). HTTP retries follow WEBHOOK_RETRY_SCHEDULE through the task's due time,
 * not BullMQ's attempts: a waiting retry holds no job. BullMQ's own retries cover crashes.
 */
export const webhookDeliver = defineJob({
  name: 'webhook.deliver',
  queue: 'webhook',
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: false,
  options: (config) => ({ attempts: 5, backoff: { type: 'upstream', delay: config.RETRY_BASE_DELAY_MS }, removeOnComplete: true, removeOnFail: true }),
});
