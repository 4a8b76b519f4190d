import { globalKeys } from '../keys.js';
import type { Signals } from '../signals.js';

/**
 * Cancel requests between processes: the API (any node) announces a canceled task id on
 * `<prefix>:cancel` (Redis pub/sub); the worker holding that task's job aborts its upstream call.
 * A request nobody holds is simply not heard: the task store already says `canceled`.
 */
export function createCancelSignal(deps: { signals: Signals; prefix: string }) {
  const channel = globalKeys(deps.prefix).cancelChannel;
  return {
    /** Announces a cancel; never throws (the canceled status is already stored). */
    async announce(taskId: string): Promise<void> {
      await deps.signals.publish(channel, taskId).catch(() => undefined);
    },
    /** Calls `onCancel(taskId)` for every cancel announced; resolves once listening, to the function that stops it. */
    listen(onCancel: (taskId: string) => void): Promise<() => Promise<void>> {
      return deps.signals.subscribe(channel, onCancel);
    },
  };
}
