import type { Config } from '../../shared/config.js';
import { parseTaskId, type Placement } from '../../shared/ids.js';
import { keyspace } from '../../shared/keys.js';
import type { Logger } from '../../shared/logger.js';
import type { MetricsRecorder } from '../../shared/metrics.js';
import { familyNamed } from '../../shared/families/catalog.js';
import type { RedisClient } from '../../shared/redis.js';
import type { Task, TaskStatus } from '../../shared/tasks/model.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import { toTaskObject } from '../../shared/tasks/view.js';
import { signWebhook, webhookSecret } from '../../shared/webhooks.js';
import type { Processor } from '../dispatch.js';
import { nextEvent, type WebhookEvent } from '../webhooks/events.js';
import { postWebhook } from '../webhooks/send.js';
import { BlockedTargetError, resolveTarget } from '../../shared/ssrf.js';
import { createDeliveryLog, type DeliveryAttempt } from '../../shared/protocols/deliveries.js';

export interface WebhookDeps {
  config: Pick<
    Config,
    'QUEUE_PREFIX' | 'TASK_RETENTION_SECONDS' | 'WEBHOOK_ALLOW_PRIVATE' | 'WEBHOOK_RETRY_SCHEDULE' | 'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_PROGRESS_INTERVAL_MS'
  >;
  redis: RedisClient;
  store: TaskStore;
  log: Logger;
  /** Where `urls` in generic bodies point. */
  publicUrl: string;
  /** Counts delivery attempts by outcome when given. */
  metrics?: MetricsRecorder;
}

/**
 * The event in flight: persisted before the first attempt, so a retry (or a crash) reuses its
 * id and sends the same bytes.
 */
interface Head extends Omit<WebhookEvent, 'snapshot'> {
  webhookId: string;
  attempts: number;
  /** The body, rendered once from the task as of the change. */
  payload: string;
}

/** Events one job delivers before handing the task back to the pump (fairness between tasks). */
const BATCH = 20;

export function createWebhookDeliver(deps: WebhookDeps): Processor<'webhook.deliver'> {
  const { config, redis, store, log } = deps;
  const keep = config.TASK_RETENTION_SECONDS + 2 * 86400;

  const deliveries = createDeliveryLog({ redis, prefix: config.QUEUE_PREFIX });
  const record = (_p: Placement, taskId: string, a: DeliveryAttempt) => deliveries.record(taskId, a, keep);

  /**
   * The body of an event: the task as of the change it reports — a family's own callback body
   * when the hook speaks its format (an MJ notifyHook gets the MJ task object), else
   * `{type, timestamp, data}` with the change's time. Entries from before snapshots were kept
   * fall back to the current task.
   */
  function body(current: Task, ev: WebhookEvent): string {
    const task = ev.snapshot ?? current;
    const format = task.webhook?.format ?? 'generic';
    const own = format === 'generic' ? undefined : familyNamed(format)?.callbackBody;
    if (own) return JSON.stringify(own(task));
    const at = new Date(Number(ev.entryId.split('-')[0])).toISOString();
    return JSON.stringify({ type: ev.type, timestamp: at, data: toTaskObject(task, deps.publicUrl) });
  }

  function retryDelay(attempts: number, retryAfterMs: number | undefined): number {
    const base = config.WEBHOOK_RETRY_SCHEDULE[attempts - 1] ?? 0;
    const jittered = Math.round(base * (0.8 + Math.random() * 0.4));
    return retryAfterMs !== undefined ? Math.max(retryAfterMs, jittered) : jittered;
  }

  return async ({ data }) => {
    const p = parseTaskId(data.taskId);
    if (!p) return;
    const ks = keyspace(config.QUEUE_PREFIX, p);
    const stateKey = ks.webhookState(data.taskId);
    // One tenant per task: its secret is read once per job, not once per attempt.
    let secret: string | null = null;
    const stop = async (reason: string) => {
      await redis.multi().hset(stateKey, 'stopped', reason).expire(stateKey, keep).zrem(ks.webhookDue, data.taskId).exec();
    };

    for (let n = 0; n < BATCH; n++) {
      const task = await store.get(data.taskId);
      if (!task?.webhook) return void (await redis.zrem(ks.webhookDue, data.taskId));
      const state = await redis.hgetall(stateKey);
      if (state.stopped) return void (await redis.zrem(ks.webhookDue, data.taskId));
      const cursor = state.cursor ?? '0';

      let head: Head | null = state.head ? (JSON.parse(state.head) as Head) : null;
      const changes = head && head.type !== 'task.progress' ? [] : await store.events(task.id, cursor);
      if (head?.type === 'task.progress' && changes.some((c) => c.status !== 'running')) {
        // A progress event still retrying is superseded once the task has moved on.
        await redis.hdel(stateKey, 'head');
        head = null;
      }
      if (!head) {
        const { event, consumed } = nextEvent(changes, (state.status as TaskStatus | undefined) ?? null, task.webhook.events);
        if (!event) {
          if (consumed) await redis.multi().hset(stateKey, 'cursor', consumed.id, 'status', consumed.status).expire(stateKey, keep).exec();
          if (await store.idleAfter(task.id, consumed?.id ?? cursor)) return;
          continue;
        }
        const since = Date.now() - Number(state.lastProgressAt ?? 0);
        if (event.type === 'task.progress' && since < config.WEBHOOK_PROGRESS_INTERVAL_MS) {
          // At most one progress event per interval; by then a newer one may have replaced it.
          await redis.zadd(ks.webhookDue, 'XX', Date.now() + config.WEBHOOK_PROGRESS_INTERVAL_MS - since, task.id);
          return;
        }
        const { snapshot: _snapshot, ...rest } = event;
        head = { ...rest, webhookId: `msg_${task.id}_${event.entryId.replace('-', '_')}`, attempts: 0, payload: body(task, event) };
        await redis.multi().hset(stateKey, 'head', JSON.stringify(head), 'cursor', event.entryId, 'status', event.status).expire(stateKey, keep).exec();
      }

      const url = new URL(task.webhook.url);
      const attempt: DeliveryAttempt = { webhook_id: head.webhookId, event: head.type, attempt: head.attempts + 1, at: Date.now(), url: url.origin + url.pathname, status: null, error: null, next_retry_at: null };
      let outcome: { status: number; retryAfterMs?: number } | null = null;
      try {
        const target = await resolveTarget(url, config.WEBHOOK_ALLOW_PRIVATE);
        const payload = head.payload ?? body(task, { ...head, snapshot: null });
        const ts = Math.floor(Date.now() / 1000);
        secret ??= await webhookSecret(redis, config.QUEUE_PREFIX, task.tenant);
        outcome = await postWebhook(url, target, { 'webhook-id': head.webhookId, 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(secret, head.webhookId, ts, payload) }, payload, config.WEBHOOK_TIMEOUT_MS);
        attempt.status = outcome.status;
      } catch (err) {
        attempt.error = (err as Error).message;
        if (err instanceof BlockedTargetError) {
          // Refused targets are recorded once and never retried.
          await record(p, task.id, attempt);
          deps.metrics?.inc('webhookDeliveries', ['refused']);
          log.warn({ taskId: task.id, host: url.hostname, reason: attempt.error }, 'webhook target refused');
          return stop('refused');
        }
      }

      if (outcome && outcome.status >= 200 && outcome.status < 300) {
        await record(p, task.id, attempt);
        deps.metrics?.inc('webhookDeliveries', ['delivered']);
        const done = redis.multi().hdel(stateKey, 'head');
        if (head.type === 'task.progress') done.hset(stateKey, 'lastProgressAt', String(Date.now()));
        await done.exec();
        continue;
      }
      if (outcome?.status === 410) {
        await record(p, task.id, { ...attempt, error: 'receiver answered 410 Gone: no more deliveries' });
        deps.metrics?.inc('webhookDeliveries', ['gone']);
        return stop('gone');
      }
      head.attempts++;
      if (head.attempts > config.WEBHOOK_RETRY_SCHEDULE.length) {
        await record(p, task.id, { ...attempt, error: `${attempt.error ?? `HTTP ${attempt.status}`}; gave up after ${head.attempts} attempts` });
        await redis.hdel(stateKey, 'head');
        deps.metrics?.inc('webhookDeliveries', ['gave_up']);
        continue;
      }
      const next = Date.now() + retryDelay(head.attempts, outcome?.retryAfterMs);
      await record(p, task.id, { ...attempt, next_retry_at: next });
      deps.metrics?.inc('webhookDeliveries', ['retry']);
      await redis.multi().hset(stateKey, 'head', JSON.stringify(head)).zadd(ks.webhookDue, next, task.id).exec();
      return;
    }
  };
}
