import { isTerminal, type Task, type TaskStatus, type WebhookEventType } from '../../shared/tasks/model.js';
import type { TaskEvent } from '../../shared/tasks/store.js';

/** One webhook event, tied to the change (event-stream entry) it reports. */
export interface WebhookEvent {
  type: WebhookEventType;
  entryId: string;
  status: TaskStatus;
  progress: number | null;
  /** The task as of that change (null for entries written before snapshots were kept). */
  snapshot: Task | null;
}

const FINAL: Record<string, WebhookEventType> = { succeeded: 'task.succeeded', failed: 'task.failed', canceled: 'task.canceled' };

/**
 * The next event to deliver from the changes after the cursor. Rules: the first change into
 * `running` is `task.started`; later changes while running are `task.progress`, coalesced to the
 * newest; once the final change is among them, pending progress is dropped so nothing follows
 * the final event; types outside `filter` are skipped. `consumed` is where the cursor moves.
 */
export function nextEvent(
  changes: TaskEvent[],
  prevStatus: TaskStatus | null,
  filter: readonly WebhookEventType[] | null,
): { event: WebhookEvent | null; consumed: TaskEvent | null } {
  const candidates: WebhookEvent[] = [];
  let prev = prevStatus;
  for (const c of changes) {
    const ev = (type: WebhookEventType): WebhookEvent => ({ type, entryId: c.id, status: c.status, progress: c.progress, snapshot: c.snapshot });
    if (isTerminal(c.status)) {
      candidates.push(ev(FINAL[c.status]!));
      break;
    }
    if (c.status === 'running') candidates.push(ev(prev === 'running' ? 'task.progress' : 'task.started'));
    prev = c.status;
  }
  const hasFinal = candidates.some((c) => c.type !== 'task.started' && c.type !== 'task.progress');
  const lastProgress = candidates.filter((c) => c.type === 'task.progress').at(-1);
  const kept = candidates.filter(
    (c) => (c.type !== 'task.progress' || (!hasFinal && c === lastProgress)) && (filter === null || filter.includes(c.type)),
  );
  const event = kept[0] ?? null;
  const consumed = event ? (changes.find((c) => c.id === event.entryId) ?? null) : (changes.at(-1) ?? null);
  return { event, consumed };
}
