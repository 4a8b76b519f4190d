import { globalKeys } from '../../shared/keys.js';
import type { Signals } from '../../shared/signals.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import type { Processor } from '../dispatch.js';
import type { MjClient } from '../upstream/mj-client.js';

export interface MjSeedDeps {
  store: TaskStore;
  signals: Signals;
  prefix: string;
  client: (name: string | null) => MjClient | null;
}

/** Fetches the seed of a finished image, keeps it on the task and wakes the waiting API call. */
export function createMjSeed(deps: MjSeedDeps): Processor<'mj.seed'> {
  return async ({ data, job }) => {
    const channel = globalKeys(deps.prefix).taskChannel(data.taskId);
    const task = await deps.store.get(data.taskId);
    const client = deps.client(task?.upstream?.channel ?? null);
    if (!task?.upstream?.id || !client) return void (await deps.signals.publish(channel, 'seed-missing'));
    try {
      const seed = await client.imageSeed(task.upstream.id);
      if (seed) await deps.store.annotate(task.id, { seed });
      await deps.signals.publish(channel, seed ? 'seed' : 'seed-missing');
    } catch (err) {
      // The API call waits for an answer either way; tell it on the last attempt.
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await deps.signals.publish(channel, 'seed-missing');
      throw err;
    }
  };
}
