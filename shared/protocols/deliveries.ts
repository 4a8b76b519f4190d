import { storeCall } from '../errors.js';
import { parseTaskId } from '../ids.js';
import { keyspace } from '../keys.js';
import type { RedisClient } from '../redis.js';

/** One webhook delivery attempt, as `GET /v1/tasks/{id}/deliveries` shows it (times epoch ms). */
export interface DeliveryAttempt {
  /** The Standard Webhooks `webhook-id` of the event (the same across its retries). */
  webhook_id: string;
  event: string;
  /** 1 for the first attempt of an event. */
  attempt: number;
  at: number;
  url: string;
  /** The receiver's HTTP status; null when no answer came (connect error, timeout, refused target). */
  status: number | null;
  error: string | null;
  /** When the next attempt is due; null when none follows. */
  next_retry_at: number | null;
}

/** The newest attempts kept per task. */
const KEEP = 500;

/**
 * A task's webhook delivery log: `<prefix>:{queue}:deliveries:<id>`, a list of DeliveryAttempt
 * JSON, oldest first, the newest 500 kept, expiring `keepSeconds` (s) after the last attempt. The webhook sender appends; the
 * API reads. Both throw what Redis throws (the API wraps it as StoreUnavailableError).
 */
export function createDeliveryLog(deps: { redis: RedisClient; prefix: string }) {
  const keyOf = (taskId: string) => {
    const p = parseTaskId(taskId);
    if (!p) throw new Error(`not a task id: ${taskId}`);
    return keyspace(deps.prefix, p).deliveries(taskId);
  };
  return {
    async record(taskId: string, attempt: DeliveryAttempt, keepSeconds: number): Promise<void> {
      const key = keyOf(taskId);
      await deps.redis.multi().rpush(key, JSON.stringify(attempt)).ltrim(key, -KEEP, -1).expire(key, keepSeconds).exec();
    },
    async list(taskId: string): Promise<DeliveryAttempt[]> {
      const raw = await storeCall(() => deps.redis.lrange(keyOf(taskId), 0, -1));
      return raw.map((r) => JSON.parse(r) as DeliveryAttempt);
    },
  };
}

export type DeliveryLog = ReturnType<typeof createDeliveryLog>;
