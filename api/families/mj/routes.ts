import type { FastifyInstance, FastifyRequest } from 'fastify';
import { imageUrlOf } from '../../../shared/dataurl.js';
import { BannedPromptError, ConflictError, NotFoundError, storeCall, ValidationError } from '../../../shared/errors.js';
import { parseTaskId } from '../../../shared/ids.js';
import { globalKeys } from '../../../shared/keys.js';
import { classifyCustomId } from '../../../shared/families/mj/buttons.js';
import { MJ_CODES, type MjSubmitResult } from '../../../shared/families/mj/protocol.js';
import { toMjTask } from '../../../shared/families/mj/view.js';
import { newMjRequest, newMjTask, type MjKind, type MjRequest, type MjTask } from '../../../shared/families/mj/task.js';
import { nextMessage } from '../../../shared/signals.js';
import type { Task, WebhookTarget } from '../../../shared/tasks/model.js';
import type { Blob, Blobs } from '../../../shared/tasks/store.js';
import { canSee } from '../../auth.js';
import { cancelTask } from '../../cancel.js';
import { parse } from '../../errors.js';
import { noteTask } from '../../request-log.js';
import { checkWebhookTarget } from '../../http-url.js';
import { idempotencyKeyOf } from '../../submit.js';
import type { FamilyRouteDeps } from '../types.js';
import { docs } from './docs.js';
import * as s from './schemas.js';

const accepted = (task: Task, ahead: number): MjSubmitResult =>
  ahead > 0
    ? { code: MJ_CODES.IN_QUEUE, description: `In queue, ${ahead} tasks ahead`, result: task.id, properties: { numberOfQueues: ahead } }
    : { code: MJ_CODES.SUCCESS, description: 'Submit success', result: task.id, properties: {} };

/** A `notifyHook` receives the MJ task object on every change, as midjourney-proxy sends it. */
const hookOf = (mj: MjRequest): WebhookTarget | null => (mj.notifyHook ? { url: mj.notifyHook, format: 'mj', events: null } : null);

type Mode = MjRequest['mode'];

/** Image inputs in their order: `image0`, `image1`, … */
const imageBlobs = (images: Blob[]): Blobs => Object.fromEntries(images.map((b, i) => [`image${i}`, b]));

/** The Midjourney-proxy routes, mounted at `/mj` and under the `/mj-fast|relax|turbo` prefixes. */
export function mjRoutes(deps: FamilyRouteDeps, mode: Mode) {
  const { store, submitter, config } = deps;

  const mjRequest = (fields: Partial<MjRequest> & Pick<MjRequest, 'action' | 'prompt' | 'description'>): MjRequest => {
    if (fields.notifyHook) checkWebhookTarget('notifyHook', fields.notifyHook, config.WEBHOOK_ALLOW_PRIVATE);
    return newMjRequest({ mode, ...fields });
  };

  function checkBanned(prompt: string) {
    const lower = prompt.toLowerCase();
    const word = config.MJ_BANNED_WORDS.find((w) => lower.includes(w.toLowerCase()));
    if (word) throw new BannedPromptError(word);
  }

  /** An MJ task this principal may see; 404 for anything else, another family's task included. */
  async function visibleTask(req: FastifyRequest, id: string, what = 'task'): Promise<MjTask> {
    return visible(req, id, what, await store.get(id));
  }

  /** `task` (read for `id`) when it is an MJ task this principal may see; 404 otherwise. */
  function visible(req: FastifyRequest, id: string, what: string, task: Task | null | undefined): MjTask {
    if (!task || task.family !== 'mj' || !canSee(req.principal, task)) throw new NotFoundError(`${what} not found: ${id.slice(0, 64)}`);
    return task;
  }

  async function submit(req: FastifyRequest, kind: MjKind, mj: MjRequest, blobs: Blobs, extra: Partial<MjTask> = {}) {
    const { task, ahead, replayed } = await submitter.submit({
      tenant: req.principal.tenant,
      queue: 'mj',
      blobs,
      job: 'mj.submit',
      idempotencyKey: idempotencyKeyOf(req),
      build: (id) => newMjTask({ id, kind, tenant: req.principal.tenant, mj, webhook: hookOf(mj), ...extra }),
    });
    noteTask(req, { taskId: task.id, kind, ahead, replayed });
    return accepted(task, ahead);
  }

  return async function plugin(app: FastifyInstance) {
    // Every answer about one task names it in x-relayq-task-id: the submit envelope's `result`,
    // or the task object's `id`.
    // (A callback hook: no promise per answer.)
    app.addHook('preSerialization', (_req, reply, payload: unknown, done) => {
      const p = payload as { result?: unknown; id?: unknown } | null;
      const id = typeof p?.result === 'string' ? p.result : typeof p?.id === 'string' ? p.id : null;
      if (id && parseTaskId(id)) void reply.header('x-relayq-task-id', id);
      done(null, payload);
    });

    app.post('/submit/imagine', { schema: docs.imagine }, async (req) => {
      const b = parse(s.imagineBody, req.body);
      checkBanned(b.prompt);
      const mj = mjRequest({ action: 'IMAGINE', prompt: b.prompt, description: `/imagine ${b.prompt}`, state: b.state ?? null, botType: b.botType, notifyHook: b.notifyHook });
      return submit(req, 'mj.imagine', mj, imageBlobs(b.images));
    });

    app.post('/submit/blend', { schema: docs.blend }, async (req) => {
      const b = parse(s.blendBody, req.body);
      const dims = b.dimensions ?? 'SQUARE';
      const mj = mjRequest({ action: 'BLEND', prompt: '', description: `/blend ${b.base64Array.length} images ${dims}`, state: b.state ?? null, botType: b.botType, notifyHook: b.notifyHook, dimensions: dims });
      return submit(req, 'mj.blend', mj, imageBlobs(b.base64Array));
    });

    app.post('/submit/describe', { schema: docs.describe }, async (req) => {
      const b = parse(s.describeBody, req.body);
      // An image URL given as `base64` is the describe `link` every upstream knows.
      const link = b.link ?? (b.base64 && imageUrlOf(b.base64));
      const mj = mjRequest({ action: 'DESCRIBE', prompt: '', description: '/describe', state: b.state ?? null, botType: b.botType, notifyHook: b.notifyHook, link: link || null });
      return submit(req, 'mj.describe', mj, b.base64 && !link ? imageBlobs([b.base64]) : {});
    });

    app.post('/submit/shorten', { schema: docs.shorten }, async (req) => {
      const b = parse(s.shortenBody, req.body);
      checkBanned(b.prompt);
      const mj = mjRequest({ action: 'SHORTEN', prompt: b.prompt, description: `/shorten ${b.prompt}`, state: b.state ?? null, botType: b.botType, notifyHook: b.notifyHook });
      return submit(req, 'mj.shorten', mj, {});
    });

    app.post('/insight-face/swap', { schema: docs.swap }, async (req) => {
      const b = parse(s.swapBody, req.body);
      const mj = mjRequest({ action: 'SWAP_FACE', prompt: '', description: '/swap_face', state: b.state ?? null, botType: 'INSIGHT_FACE', notifyHook: b.notifyHook });
      return submit(req, 'mj.swap_face', mj, { source: b.source, target: b.target });
    });

    app.post('/submit/action', { schema: docs.action }, async (req) => {
      const b = parse(s.actionBody, req.body);
      const parent = await visibleTask(req, b.taskId, 'parent task');
      if (parent.status !== 'succeeded') throw new ValidationError('taskId', `parent task must be SUCCESS (it is ${toMjTask(parent).status})`);
      if (!parent.buttons.some((btn) => btn.customId === b.customId)) throw new ValidationError('customId', 'is not one of the parent task buttons');
      const meaning = classifyCustomId(b.customId);
      if (!meaning) throw new ValidationError('customId', 'is not a Midjourney button id (MJ::...)');
      const mj = mjRequest({
        action: meaning.action,
        prompt: parent.mj?.prompt ?? '',
        description: `/${meaning.action.toLowerCase()} ${parent.id} ${b.customId}`,
        state: b.state ?? null,
        botType: parent.mj?.botType,
        notifyHook: b.notifyHook,
        parentId: parent.id,
        customId: b.customId,
      });
      const upstream = parent.upstream ? { channel: parent.upstream.channel, id: null, modalId: null, status: null } : null;
      if (!meaning.modal) return submit(req, 'mj.action', mj, {}, { upstream });
      // Needs the modal step: the task waits in MODAL for /submit/modal, no job yet.
      const { task } = await submitter.submit({
        tenant: req.principal.tenant,
        queue: 'mj',
        job: null,
        idempotencyKey: idempotencyKeyOf(req),
        build: (id) => newMjTask({ id, kind: 'mj.action', tenant: req.principal.tenant, status: 'requires_action', mj, upstream, webhook: hookOf(mj) }),
      });
      const finalPrompt = typeof parent.properties.finalPrompt === 'string' && parent.kind !== 'mj.imagine' ? parent.properties.finalPrompt : mj.prompt;
      return { code: MJ_CODES.EXISTED, description: 'Waiting for window confirm', result: task.id, properties: { finalPrompt, remix: true } };
    });

    app.post('/submit/modal', { schema: docs.modal }, async (req) => {
      const b = parse(s.modalBody, req.body);
      const task = await visibleTask(req, b.taskId);
      if (task.status !== 'requires_action') throw new ValidationError('taskId', `task is not waiting for the modal step (it is ${toMjTask(task).status})`);
      const meaning = task.mj?.customId ? classifyCustomId(task.mj.customId) : null;
      const mask = b.maskBase64 ?? null;
      if (meaning?.needsMask && !mask) throw new ValidationError('maskBase64', 'is required for Vary (Region)');
      const prompt = b.prompt || task.mj?.prompt || '';
      if (!prompt && !meaning?.needsMask) throw new ValidationError('prompt', 'is required');
      if (prompt) checkBanned(prompt);
      await submitter.rateLimit(req.principal.tenant);
      const { placement } = await submitter.admit('mj', parseTaskId(task.id) ?? undefined);
      const res = await store.updateAndEnqueue(
        task,
        { status: 'queued', from: ['requires_action'], patch: { modal: { prompt: prompt || null, mask: mask !== null } } },
        { blobs: mask ? { mask } : undefined, job: submitter.jobFor('mj.submit', task.id) },
      );
      if (!res?.applied) throw new ConflictError('task is no longer waiting for the modal step', 'taskId');
      submitter.queued(placement);
      return accepted(task, res.ahead);
    });

    app.get('/task/:id/fetch', { schema: docs.fetch }, async (req) => {
      const { id } = parse(s.taskIdParams, req.params, 'id');
      return toMjTask(await visibleTask(req, id));
    });

    app.post('/task/list-by-condition', { schema: docs.listByCondition }, async (req) => {
      const { ids } = parse(s.listByConditionBody, req.body);
      const tasks = await store.getMany([...new Set(ids)]);
      return tasks.filter((t): t is MjTask => t.family === 'mj' && canSee(req.principal, t)).map(toMjTask);
    });

    app.get('/task/list', { schema: docs.list }, async (req) => {
      const { tasks } = await store.listByTenant(req.principal.tenant, ['mj'], 100);
      return tasks.filter((t): t is MjTask => t.family === 'mj').map(toMjTask);
    });

    app.get('/task/queue', { schema: docs.queue }, async (req) => {
      const tasks = await store.activeByTenant(req.principal.tenant, 'mj');
      return tasks
        .filter((t): t is MjTask => t.family === 'mj' && (t.status === 'queued' || t.status === 'running'))
        .sort((a, b) => a.created_at - b.created_at)
        .map(toMjTask);
    });

    app.post('/task/:id/cancel', { schema: docs.cancel }, async (req) => {
      const { id } = parse(s.taskIdParams, req.params, 'id');
      const task = await cancelTask(deps.cancel, await visibleTask(req, id));
      return { code: MJ_CODES.SUCCESS, description: 'canceled', result: task.id, properties: {} };
    });

    app.get('/task/:id/image-seed', { schema: docs.imageSeed }, async (req, reply) => {
      const { id } = parse(s.taskIdParams, req.params, 'id');
      let task = await visibleTask(req, id);
      if (task.status !== 'succeeded' || !task.upstream?.id) throw new ValidationError('id', 'the task has no finished image yet');
      if (!task.seed) {
        // A worker asks the upstream; we wait on the task's signal channel (listening first).
        const channel = globalKeys(config.QUEUE_PREFIX).taskChannel(task.id);
        const msg = await nextMessage(deps.signals, channel, 30_000, async () => {
          await storeCall(() => submitter.enqueue.add('mj.seed', { taskId: task.id }, { jobId: `seed-${task.id}-${Date.now()}` }));
        });
        task = (await visibleTask(req, id).catch(() => null)) ?? task;
        if (!task.seed) {
          void reply.status(msg === null ? 504 : 404);
          return { code: msg === null ? MJ_CODES.FAILURE : MJ_CODES.NOT_FOUND, description: msg === null ? 'seed lookup timed out' : 'seed not found', result: null, properties: {} };
        }
      }
      return { code: MJ_CODES.SUCCESS, description: 'Success', result: task.seed, properties: {} };
    });
  };
}
