import { ConflictError, NotFoundError } from '../shared/errors.js';
import { parseTaskId } from '../shared/ids.js';
import { createCancelSignal } from '../shared/protocols/cancel.js';
import { createInflight } from '../shared/protocols/inflight.js';
import type { Queues } from '../shared/queues.js';
import type { RedisClient } from '../shared/redis.js';
import type { Signals } from '../shared/signals.js';
import { errorOf, type Task } from '../shared/tasks/model.js';
import type { TaskStore } from '../shared/tasks/store.js';

export interface CancelDeps {
  store: TaskStore;
  queues: Queues;
  signals: Signals;
  redis: RedisClient;
  prefix: string;
}

/**
 * Cancels a queued or running task from any API node. The task record decides: once it is
 * `canceled` no worker will move it again. Then, best effort and in this order, the waiting job
 * is removed, the worker holding a running job is told to abort its upstream call, and a task
 * already submitted upstream is handed to the MJ tracker to cancel there.
 */
export async function cancelTask(deps: CancelDeps, task: Task): Promise<Task> {
  const now = Date.now();
  const res = await deps.store.update(task, {
    status: 'canceled',
    patch: { completed_at: now, error: errorOf('canceled', 'canceled', 'canceled by client') },
  });
  if (!res) throw new NotFoundError('task not found');
  if (!res.applied) throw new ConflictError(`task already finished (${res.status}); only queued or running tasks can be canceled`);
  const p = parseTaskId(task.id);
  if (p) {
    // A job that a worker holds is locked and stays; the worker learns from the signal below.
    await deps.queues
      .get(p)
      .remove(task.id)
      .catch(() => 0);
    await createCancelSignal(deps).announce(task.id);
    if (task.upstream?.id) await createInflight({ redis: deps.redis, prefix: deps.prefix }).cancelUpstream(task.id, { channel: task.upstream.channel, id: task.upstream.id });
  }
  return (await deps.store.get(task.id)) ?? task;
}
