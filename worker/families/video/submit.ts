import type { Channel } from '../../../shared/channels/config.js';
import { PermanentUpstreamError, ValidationError } from '../../../shared/errors.js';
import { videoFamily } from '../../../shared/families/video/family.js';
import type { VideoTask } from '../../../shared/families/video/task.js';
import { parseTaskId } from '../../../shared/ids.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { TaskStore } from '../../../shared/tasks/store.js';
import type { ChannelRunner } from '../../channels/run.js';
import type { Processor } from '../../dispatch.js';
import type { Tracker } from '../../tracker.js';
import { reportOf } from './adapter.js';
import type { VideoClient } from './client.js';

export interface VideoSubmitDeps {
  store: TaskStore;
  tracker: () => Tracker;
  /** Routes each call to a channel, within its limits, failing over (worker/channels/run.ts). */
  channels: ChannelRunner;
  client: (channel: Channel) => VideoClient;
}

/** The upstream id of the video a remix remixes; its channel is the remix's (pinned at creation). */
async function parentUpstreamId(store: TaskStore, task: VideoTask): Promise<string> {
  const found = task.video.remixed_from_video_id ? await store.get(task.video.remixed_from_video_id) : null;
  if (found?.family !== 'video' || !found.upstream?.id) throw new PermanentUpstreamError('the video to remix is gone or was never made upstream', 404);
  return found.upstream.id;
}

/**
 * Sends a video (or a remix, to the channel that made its parent, with the parent's upstream id)
 * to its upstream with the client's own body, then hands it to the tracker. Safe to run twice
 * (BullMQ delivers at least once): a video already accepted upstream is only handed over again.
 */
export function createVideoSubmit(deps: VideoSubmitDeps): Processor<'video.submit'> {
  const { store } = deps;
  return async ({ data, job, log, signal }) => {
    const task = await store.get(data.taskId);
    if (!task) return log.warn('task no longer exists; dropping job');
    if (task.family !== 'video') throw new ValidationError('task', `${task.kind} is not a video task`);
    if (isTerminal(task.status)) return;
    const p = parseTaskId(task.id)!;
    // Accepted upstream before a crash: only the hand-over to the tracker may be missing.
    if (task.status === 'running' && task.upstream?.id) return deps.tracker().track(task, p, task.upstream.channel, task.upstream.id);
    const request = (await store.blobs(task.id)).request;
    if (!request) throw new ValidationError('request', 'the stored request is missing (expired?)');
    const remixOf = task.kind === 'video.remix' ? await parentUpstreamId(store, task) : null;
    const prior = task.channel_attempts ?? [];
    const { value: video, channel, attempts } = await deps.channels.call(
      { type: videoFamily.channelType, kind: task.kind, model: task.video.model },
      {
        // A remix goes only to the channel that holds its parent: another account does not have it.
        pinned: task.upstream?.channel ?? null,
        avoid: prior.filter((a) => a.outcome !== 'succeeded').map((a) => a.channel),
        onAttempt: (a) => store.annotate(task.id, { channel_attempts: [...prior, ...a] }),
        log,
      },
      async (channel) => {
        await store.update(task, { from: ['queued'], patch: { attempts: job.attemptsMade + 1 } });
        const client = deps.client(channel);
        return remixOf ? client.remix(remixOf, request.data, request.type, signal) : client.create(request.data, request.type, signal);
      },
    );
    const upstream = { channel: channel.name, id: video.id, status: video.status ?? 'queued' };
    const res = await store.update(task, {
      status: 'running',
      from: ['queued'],
      patch: { started_at: Date.now(), progress: Math.min(video.progress ?? 0, 99), upstream, reported: reportOf(video), channel_attempts: [...prior, ...attempts] },
    });
    if (!res?.applied) {
      // Canceled while we were submitting: the upstream work is not wanted.
      await deps.client(channel).remove(video.id).catch(() => undefined);
      return;
    }
    await deps.tracker().track(task, p, channel.name, video.id);
    log.info({ channel: channel.name, status: video.status }, 'video accepted upstream');
  };
}
