import { imageUrlOf, toUpstreamImage } from '../../../shared/dataurl.js';
import { PermanentUpstreamError, ValidationError } from '../../../shared/errors.js';
import { parseTaskId } from '../../../shared/ids.js';
import { MJ_CODES } from '../../../shared/families/mj/protocol.js';
import type { Channel } from '../../../shared/channels/config.js';
import type { MjTask } from '../../../shared/families/mj/task.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { Blobs, TaskStore } from '../../../shared/tasks/store.js';
import type { ChannelRunner } from '../../channels/run.js';
import type { Processor } from '../../dispatch.js';
import type { Tracker } from '../../tracker.js';
import type { MjClient, SubmitAnswer } from './client.js';

export interface MjSubmitDeps {
  store: TaskStore;
  tracker: () => Tracker;
  /** Routes each call to a channel, within its limits, failing over (worker/channels/run.ts). */
  channels: ChannelRunner;
  client: (channel: Channel) => MjClient;
}

const images = (blobs: Blobs) =>
  Object.keys(blobs)
    .filter((k) => k.startsWith('image'))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((k) => toUpstreamImage(blobs[k]!));

/** The upstream route and body of a first submission (everything but actions). */
function firstRequest(task: MjTask, blobs: Blobs): [string, Record<string, unknown>] {
  const mj = task.mj;
  const bot = { botType: mj.botType };
  switch (task.kind) {
    case 'mj.imagine':
      return ['/mj/submit/imagine', { prompt: mj.prompt, base64Array: images(blobs), ...bot }];
    case 'mj.blend':
      return ['/mj/submit/blend', { base64Array: images(blobs), dimensions: mj.dimensions ?? 'SQUARE', ...bot }];
    case 'mj.describe':
      return ['/mj/submit/describe', mj.link ? { link: mj.link, ...bot } : { base64: images(blobs)[0], ...bot }];
    case 'mj.shorten':
      return ['/mj/submit/shorten', { prompt: mj.prompt, ...bot }];
    case 'mj.swap_face':
      return ['/mj/insight-face/swap', { ...face(blobs, 'source'), ...face(blobs, 'target') }];
    default:
      throw new ValidationError('kind', `${task.kind} is not a first submission`);
  }
}

/** A face image: bytes as `<name>Base64`, an image URL as `<name>Url` (trueai-org's server reads URLs only there). */
function face(blobs: Blobs, name: 'source' | 'target'): Record<string, string> {
  const b = blobs[name];
  if (!b) throw new ValidationError(name, 'input image is missing (expired?)');
  const url = imageUrlOf(b);
  return url ? { [`${name}Url`]: url } : { [`${name}Base64`]: toUpstreamImage(b) };
}

/**
 * Submits an MJ task upstream and hands it to the tracker. Safe to run twice (BullMQ delivers
 * at least once): a task already submitted is only handed to the tracker again.
 */
export function createMjSubmit(deps: MjSubmitDeps): Processor<'mj.submit'> {
  const { store } = deps;

  async function submitAction(client: MjClient, task: MjTask, signal: AbortSignal): Promise<SubmitAnswer> {
    const mj = task.mj;
    const found = mj.parentId ? await store.get(mj.parentId) : null;
    const parent = found?.family === 'mj' ? found : null;
    if (!parent?.upstream?.id) throw new PermanentUpstreamError('the parent task is gone or was never submitted upstream');
    const blobs = task.modal?.mask ? await store.blobs(task.id) : {};
    const confirm = (modalId: string, prompt: string | null) =>
      client.submit('/mj/submit/modal', { taskId: modalId, ...(prompt ? { prompt } : {}), ...(blobs.mask ? { maskBase64: toUpstreamImage(blobs.mask) } : {}) }, mj.mode, signal);

    // A retry after the upstream created its MODAL task goes straight to the modal step.
    if (task.modal && task.upstream?.modalId) return confirm(task.upstream.modalId, task.modal.prompt);
    const answer = await client.submit('/mj/submit/action', { taskId: parent.upstream.id, customId: mj.customId }, mj.mode, signal);
    if (answer.code !== MJ_CODES.EXISTED) return answer;
    // Code 21: the upstream wants its modal step. Our client already gave its input (task.modal),
    // or, for remix-on-upstream cases, we confirm with the prompt the upstream suggested.
    await store.update(task, { from: ['queued'], patch: { upstream: { channel: client.channel.name, id: null, status: null, ...task.upstream, modalId: answer.upstreamId } } });
    const suggested = typeof answer.properties.finalPrompt === 'string' ? answer.properties.finalPrompt : parent.mj.prompt ?? null;
    return confirm(answer.upstreamId, task.modal?.prompt ?? suggested);
  }

  return async ({ data, job, log, signal }) => {
    // Both reads at once: the task and its input images (none for actions and shorten).
    const [task, stored] = await Promise.all([store.get(data.taskId), store.blobs(data.taskId)]);
    if (!task) return log.warn('task no longer exists; dropping job');
    if (task.family !== 'mj') throw new ValidationError('task', `${task.kind} is not an MJ task`);
    if (isTerminal(task.status) || task.status === 'requires_action') return;
    const p = parseTaskId(task.id)!;
    if (task.status === 'running' && task.upstream?.id) {
      // Submitted before a crash: only the hand-over to the tracker may be missing.
      return deps.tracker().track(task, p, task.upstream.channel, task.upstream.id);
    }
    const prior = task.channel_attempts ?? [];
    const blobs = task.kind === 'mj.action' || task.kind === 'mj.shorten' ? {} : stored;
    const attempt = job.attemptsMade + 1;
    // First submissions go to any healthy MJ channel; an action (and its modal step) only to the
    // channel that holds its parent's image: another account does not have it.
    const { value: answer, channel, attempts } = await deps.channels.call(
      { type: 'mj', kind: task.kind, model: null },
      {
        pinned: task.upstream?.channel ?? null,
        avoid: prior.filter((a) => a.outcome !== 'succeeded').map((a) => a.channel),
        // The attempt is counted with its outcome: here when it failed, else with `running` below.
        onAttempt: (a) => store.annotate(task.id, { channel_attempts: [...prior, ...a], attempts: attempt }),
        log,
      },
      async (channel) => {
        const client = deps.client(channel);
        if (task.kind === 'mj.action') return submitAction(client, task, signal);
        const [path, body] = firstRequest(task, blobs);
        return client.submit(path, body, task.mj?.mode ?? null, signal);
      },
    );
    if (answer.code === MJ_CODES.EXISTED) throw new PermanentUpstreamError('upstream asked for a modal step this task cannot give');

    const upstream = { channel: channel.name, id: answer.upstreamId, modalId: null, status: 'SUBMITTED' };
    const res = await store.update(task, { status: 'running', from: ['queued'], patch: { started_at: Date.now(), progress: 0, attempts: attempt, upstream, channel_attempts: [...prior, ...attempts] } });
    if (!res?.applied) {
      // Canceled while we were submitting: the upstream work is not wanted.
      await deps.client(channel).cancel(answer.upstreamId).catch(() => undefined);
      return;
    }
    await deps.tracker().track(task, p, channel.name, answer.upstreamId);
    log.info({ channel: channel.name, code: answer.code }, 'submitted upstream');
  };
}
