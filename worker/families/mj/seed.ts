import { ChannelBusyError, PermanentUpstreamError } from '../../../shared/errors.js';
import { globalKeys } from '../../../shared/keys.js';
import type { Signals } from '../../../shared/signals.js';
import type { TaskStore } from '../../../shared/tasks/store.js';
import type { ChannelRunner } from '../../channels/run.js';
import type { Processor } from '../../dispatch.js';
import type { Channel } from '../../../shared/channels/config.js';
import type { MjClient } from './client.js';

export interface MjSeedDeps {
  store: TaskStore;
  signals: Signals;
  prefix: string;
  channels: ChannelRunner;
  client: (channel: Channel) => MjClient;
}

/**
 * Fetches the seed of a finished image from the channel that made it, keeps it on the task and
 * wakes the waiting API call (which is told "missing" when the seed cannot be had).
 */
export function createMjSeed(deps: MjSeedDeps): Processor<'mj.seed'> {
  return async ({ data, job, log }) => {
    const channel = globalKeys(deps.prefix).taskChannel(data.taskId);
    const task = await deps.store.get(data.taskId);
    const upstream = task?.family === 'mj' ? task.upstream : null;
    if (!task || !upstream?.id) return void (await deps.signals.publish(channel, 'seed-missing'));
    try {
      const { value: seed } = await deps.channels.call({ type: 'mj', kind: task.kind, model: null }, { pinned: upstream.channel, log }, (c) => deps.client(c).imageSeed(upstream.id!));
      if (seed) await deps.store.annotate(task.id, { seed });
      await deps.signals.publish(channel, seed ? 'seed' : 'seed-missing');
    } catch (err) {
      // The API call waits for an answer either way; tell it when no retry will come.
      const last = err instanceof PermanentUpstreamError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last && !(err instanceof ChannelBusyError)) await deps.signals.publish(channel, 'seed-missing');
      throw err;
    }
  };
}
