import { globalKeys } from '../shared/keys.js';
import type { Signals } from '../shared/signals.js';
import { isTerminal, type Task } from '../shared/tasks/model.js';
import type { TaskStore } from '../shared/tasks/store.js';

export interface FollowDeps {
  signals: Signals;
  prefix: string;
  /** Aborted when the API shuts down: every wait ends at once. */
  shutdown: AbortSignal;
}

/**
 * Calls `step` now and again whenever the task's channel announces a change (at least every
 * `pollMs`, as a safety net), until it returns a value, `ms` pass, the client leaves or the API
 * shuts down. The subscription starts
 * before the first step, so no change between "read" and "wait" can be missed.
 */
export async function follow<T>(deps: FollowDeps, taskId: string, ms: number, step: () => Promise<T | undefined>, opts: { pollMs?: number; closed?: AbortSignal } = {}): Promise<T | undefined> {
  let wake: () => void = () => undefined;
  let pending = false;
  const stop = await deps.signals.subscribe(globalKeys(deps.prefix).taskChannel(taskId), () => {
    pending = true;
    wake();
  });
  const onClose = () => wake();
  const closed = opts.closed ? AbortSignal.any([opts.closed, deps.shutdown]) : deps.shutdown;
  closed.addEventListener('abort', onClose);
  const deadline = Date.now() + ms;
  try {
    for (;;) {
      pending = false;
      const result = await step();
      if (result !== undefined) return result;
      const left = deadline - Date.now();
      if (left <= 0 || closed.aborted) return undefined;
      if (pending) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, opts.pollMs ?? 2000));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    closed.removeEventListener('abort', onClose);
    await stop();
  }
}

/**
 * The task once it has ended; undefined when `ms` (ms, ≤ 0: no wait at all) passed, the client
 * left (`closed`) or the API is shutting down first. For `Prefer: wait=N` and sync answers.
 */
export async function waitForEnd(deps: FollowDeps & { store: Pick<TaskStore, 'get'> }, id: string, ms: number, closed?: AbortSignal): Promise<Task | undefined> {
  if (ms <= 0) return undefined;
  return follow(
    deps,
    id,
    ms,
    async () => {
      const t = await deps.store.get(id);
      return t && isTerminal(t.status) ? t : undefined;
    },
    { closed },
  );
}
