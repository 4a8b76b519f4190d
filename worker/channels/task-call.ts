import type { Channel } from '../../shared/channels/config.js';
import { CanceledError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ChannelAttempt, Task } from '../../shared/tasks/model.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import type { Need } from './router.js';
import type { ChannelRunner } from './run.js';

/**
 * A task's upstream call on a channel, as every family's request job makes it (`runner.call`):
 * channels earlier attempts failed on are a last resort, every attempt is recorded on the task
 * (`channel_attempts`), and the task turns `running` once a channel took the call (`attempt` is the
 * job's attempt number) — while it waits for a channel it stays queued.
 * @throws CanceledError when the task was canceled (or ended) before a channel took it; else what
 * `runner.call` throws.
 */
export async function callForTask<T>(
  deps: { channels: ChannelRunner; store: TaskStore },
  task: Task,
  attempt: number,
  need: Need,
  log: Logger,
  fn: (channel: Channel) => Promise<T>,
): Promise<{ value: T; channel: Channel; attempts: ChannelAttempt[] }> {
  const prior = task.channel_attempts ?? [];
  let running = false;
  return deps.channels.call(
    need,
    {
      avoid: prior.filter((a) => a.outcome !== 'succeeded').map((a) => a.channel),
      onAttempt: (a) => deps.store.annotate(task.id, { channel_attempts: [...prior, ...a] }),
      log,
    },
    async (channel) => {
      if (!running) {
        const started = await deps.store.update(task, { status: 'running', from: ['queued', 'running'], patch: { started_at: task.started_at ?? Date.now(), attempts: attempt } });
        if (!started?.applied) throw new CanceledError();
        running = true;
      }
      return fn(channel);
    },
  );
}
