import type { Channel } from '../../../shared/channels/config.js';
import { PermanentUpstreamError, ValidationError } from '../../../shared/errors.js';
import type { SunoTask } from '../../../shared/families/suno/task.js';
import { parseTaskId } from '../../../shared/ids.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { TaskStore } from '../../../shared/tasks/store.js';
import type { ChannelRunner } from '../../channels/run.js';
import type { Processor } from '../../dispatch.js';
import type { Tracker } from '../../tracker.js';
import type { SunoClient } from './client.js';

export interface SunoSubmitDeps {
  store: TaskStore;
  tracker: () => Tracker;
  /** Routes each call to a channel, within its limits, failing over (worker/channels/run.ts). */
  channels: ChannelRunner;
  client: (channel: Channel) => SunoClient;
}

/**
 * The upstream body of a task: as asked, and for an extend with `task_id` set to the upstream's id
 * of the parent (suno-api refuses a `continue_clip_id` without one).
 * @throws PermanentUpstreamError when the parent is gone or never reached its upstream.
 */
async function bodyOf(store: TaskStore, task: SunoTask): Promise<Record<string, unknown>> {
  if (!task.suno.parentId) return task.suno.body;
  const found = await store.get(task.suno.parentId);
  const parent = found?.family === 'suno' ? found : null;
  if (!parent?.upstream?.id) throw new PermanentUpstreamError('the task whose clip this extends is gone or was never submitted upstream');
  return { ...task.suno.body, task_id: parent.upstream.id };
}

/**
 * Submits a Suno task upstream and hands it to the tracker. Safe to run twice (BullMQ delivers at
 * least once): a task already submitted is only handed to the tracker again.
 */
export function createSunoSubmit(deps: SunoSubmitDeps): Processor<'suno.submit'> {
  const { store } = deps;
  return async ({ data, job, log, signal }) => {
    const task = await store.get(data.taskId);
    if (!task) return log.warn('task no longer exists; dropping job');
    if (task.family !== 'suno') throw new ValidationError('task', `${task.kind} is not a Suno task`);
    if (isTerminal(task.status)) return;
    const p = parseTaskId(task.id)!;
    if (task.status === 'running' && task.upstream?.id) {
      // Submitted before a crash: only the hand-over to the tracker may be missing.
      return deps.tracker().track(task, p, task.upstream.channel, task.upstream.id);
    }
    const body = await bodyOf(store, task);
    const prior = task.channel_attempts ?? [];
    // New work goes to any healthy Suno channel; an extend only to the channel that made its parent.
    const { value: upstreamId, channel, attempts } = await deps.channels.call(
      { type: 'suno', kind: task.kind, model: task.suno.mv },
      {
        pinned: task.upstream?.channel ?? null,
        avoid: prior.filter((a) => a.outcome !== 'succeeded').map((a) => a.channel),
        onAttempt: (a) => store.annotate(task.id, { channel_attempts: [...prior, ...a] }),
        log,
      },
      async (channel) => {
        await store.update(task, { from: ['queued'], patch: { attempts: job.attemptsMade + 1 } });
        return deps.client(channel).submit(task.kind === 'suno.lyrics' ? 'lyrics' : 'music', body, signal);
      },
    );
    const upstream = { channel: channel.name, id: upstreamId, status: 'SUBMITTED' };
    const res = await store.update(task, { status: 'running', from: ['queued'], patch: { started_at: Date.now(), progress: 0, upstream, channel_attempts: [...prior, ...attempts] } });
    // Canceled while we were submitting: suno-api has no cancel, so the work is simply not followed.
    if (!res?.applied) return log.info({ channel: channel.name }, 'task canceled during submit; upstream work left unfollowed');
    await deps.tracker().track(task, p, channel.name, upstreamId);
    log.info({ channel: channel.name }, 'submitted upstream');
  };
}
