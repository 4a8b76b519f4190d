import type { Channel } from '../../../shared/channels/config.js';
import { PermanentUpstreamError, ValidationError } from '../../../shared/errors.js';
import { lumaFamily } from '../../../shared/families/luma/family.js';
import { effectiveState } from '../../../shared/families/luma/protocol.js';
import type { LumaTask } from '../../../shared/families/luma/task.js';
import { parseTaskId } from '../../../shared/ids.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { TaskStore } from '../../../shared/tasks/store.js';
import type { ChannelRunner } from '../../channels/run.js';
import type { Processor } from '../../dispatch.js';
import type { Tracker } from '../../tracker.js';
import { generationOf } from './adapter.js';
import type { LumaClient } from './client.js';

export interface LumaSubmitDeps {
  store: TaskStore;
  tracker: () => Tracker;
  /** Routes each call to a channel, within its limits, failing over (worker/channels/run.ts). */
  channels: ChannelRunner;
  client: (channel: Channel) => LumaClient;
}

/** The request body the client sent (validated by the API), as it goes upstream. */
async function requestBody(store: TaskStore, task: LumaTask): Promise<Record<string, unknown>> {
  const blob = (await store.blobs(task.id)).request;
  if (!blob) throw new ValidationError('request', 'the request body is missing (expired?)');
  return JSON.parse(blob.data.toString('utf8')) as Record<string, unknown>;
}

/**
 * Where a task goes upstream: a generation to `/luma/generations` on any healthy Luma channel; an
 * extend to `/luma/generations/{upstream id of the parent}/extend`, only on the channel that made
 * the parent (another account does not have it).
 */
async function targetOf(store: TaskStore, task: LumaTask): Promise<{ path: string; pinned: string | null }> {
  if (task.kind !== 'luma.extend') return { path: '/luma/generations', pinned: task.upstream?.channel ?? null };
  const found = task.luma.parentId ? await store.get(task.luma.parentId) : null;
  const parent = found?.family === lumaFamily.name ? found : null;
  if (!parent?.upstream?.id) throw new PermanentUpstreamError('the generation to extend is gone or was never made upstream');
  return { path: `/luma/generations/${encodeURIComponent(parent.upstream.id)}/extend`, pinned: parent.upstream.channel };
}

/**
 * Submits a Luma generation (or extension) upstream and hands it to the tracker. Safe to run
 * twice (BullMQ delivers at least once): a task already submitted is only handed over again.
 */
export function createLumaSubmit(deps: LumaSubmitDeps): Processor<'luma.submit'> {
  const { store } = deps;
  return async ({ data, job, log, signal }) => {
    const task = await store.get(data.taskId);
    if (!task) return log.warn('task no longer exists; dropping job');
    if (task.family !== lumaFamily.name) throw new ValidationError('task', `${task.kind} is not a Luma task`);
    if (isTerminal(task.status)) return;
    const p = parseTaskId(task.id)!;
    if (task.status === 'running' && task.upstream?.id) {
      // Submitted before a crash: only the hand-over to the tracker may be missing.
      return deps.tracker().track(task, p, task.upstream.channel, task.upstream.id);
    }
    const body = await requestBody(store, task);
    const { path, pinned } = await targetOf(store, task);
    const prior = task.channel_attempts ?? [];
    const { value: g, channel, attempts } = await deps.channels.call(
      { type: lumaFamily.channelType, kind: task.kind, model: task.luma.model },
      {
        pinned,
        avoid: prior.filter((a) => a.outcome !== 'succeeded').map((a) => a.channel),
        onAttempt: (a) => store.annotate(task.id, { channel_attempts: [...prior, ...a] }),
        log,
      },
      async (channel) => {
        await store.update(task, { from: ['queued'], patch: { attempts: job.attemptsMade + 1 } });
        return deps.client(channel).submit(path, body, signal);
      },
    );
    // The first answer's state is copied by the tracker's first poll (which compares against nothing).
    const state = effectiveState(g) === 'processing' ? 'processing' : 'pending';
    const res = await store.update(task, {
      status: 'running',
      from: ['queued'],
      patch: { started_at: Date.now(), progress: 0, upstream: { channel: channel.name, id: g.id, status: g.rawState }, generation: generationOf(g, state), channel_attempts: [...prior, ...attempts] },
    });
    // Canceled while we were submitting: Luma-API has no cancel, so the generation is left unused.
    if (!res?.applied) return log.info({ channel: channel.name }, 'task canceled during its submit; upstream generation left unused');
    await deps.tracker().track(task, p, channel.name, g.id);
    log.info({ channel: channel.name }, 'submitted upstream');
  };
}
