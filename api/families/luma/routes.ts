import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, TooLargeError, ValidationError } from '../../../shared/errors.js';
import { lumaFamily } from '../../../shared/families/luma/family.js';
import { LUMA_QUEUE, newLumaTask, type LumaKind, type LumaTask } from '../../../shared/families/luma/task.js';
import { toLumaGeneration } from '../../../shared/families/luma/view.js';
import type { WebhookTarget } from '../../../shared/tasks/model.js';
import { canSee } from '../../auth.js';
import { parse } from '../../errors.js';
import { noteTask } from '../../request-log.js';
import { waitForEnd } from '../../follow.js';
import { checkWebhookTarget, webhookOf } from '../../http-url.js';
import { parsePrefer } from '../../prefer.js';
import { taskHeader } from '../../replay.js';
import { closedSignal } from '../../sse.js';
import { idempotencyKeyOf } from '../../submit.js';
import type { FamilyRouteDeps } from '../types.js';
import { docs } from './docs.js';
import { generationBody, taskIdParams, type GenerationBody } from './schemas.js';

/** The body that goes upstream: the client's, with `prompt` as `user_prompt` and relayq's own fields taken out. */
function upstreamBody(b: GenerationBody): Record<string, unknown> {
  const { prompt, notify_hook: _hook, ...rest } = b;
  const out: Record<string, unknown> = { ...rest, user_prompt: b.user_prompt ?? prompt ?? '' };
  for (const [k, v] of Object.entries(out)) if (v === undefined || v === null) delete out[k];
  return out;
}

/**
 * The Luma-API routes (`/luma/generations…`, also under `/luma/v1`, which relays and their clients
 * use for the same protocol). Every answer about a generation is its generation object, with
 * relayq's task id as `id`.
 */
export function lumaRoutes(deps: FamilyRouteDeps) {
  const { store, submitter, config } = deps;
  const followDeps = { signals: deps.signals, prefix: config.QUEUE_PREFIX, shutdown: deps.shutdown };

  /** A Luma task this principal may see; 404 for anything else, another family's task included. */
  async function visibleTask(req: FastifyRequest, id: string): Promise<LumaTask> {
    const task = await store.get(id);
    if (!task || task.family !== lumaFamily.name || !canSee(req.principal, task)) throw new NotFoundError(`generation not found: ${id.slice(0, 64)}`);
    return task;
  }

  /**
   * Where the task's changes go: `X-Webhook-Url` (the generic body) when given, else the body's
   * `notify_hook` (the generation object, as Luma-API relays send it).
   */
  function webhookFor(req: FastifyRequest, b: GenerationBody): WebhookTarget | null {
    const generic = webhookOf(req.headers, config.WEBHOOK_ALLOW_PRIVATE);
    if (generic || !b.notify_hook) return generic;
    checkWebhookTarget('notify_hook', b.notify_hook, config.WEBHOOK_ALLOW_PRIVATE);
    return { url: b.notify_hook, format: lumaFamily.name, events: null };
  }

  /**
   * Creates the task and answers its generation object at once (200; 202 for `Prefer:
   * respond-async`), or, with `Prefer: wait=N`, once it finished or N seconds passed.
   */
  async function submit(req: FastifyRequest, reply: FastifyReply, kind: LumaKind, b: GenerationBody, parentId: string | null) {
    const webhook = webhookFor(req, b);
    const pref = parsePrefer(req.headers.prefer, config.SYNC_WAIT_SECONDS);
    const data = Buffer.from(JSON.stringify(upstreamBody(b)));
    if (data.length > config.BLOB_MAX_BYTES) throw new TooLargeError('body', `is larger than BLOB_MAX_BYTES (${config.BLOB_MAX_BYTES} bytes)`);
    const luma = { prompt: b.user_prompt ?? b.prompt ?? '', aspect_ratio: b.aspect_ratio ?? null, model: b.model_name ?? null, parentId };
    const { task, ahead, replayed } = await submitter.submit({
      tenant: req.principal.tenant,
      queue: LUMA_QUEUE,
      job: 'luma.submit',
      blobs: { request: { type: 'application/json', data } },
      idempotencyKey: idempotencyKeyOf(req),
      build: (id) => newLumaTask({ id, kind, tenant: req.principal.tenant, luma, webhook }),
    });
    noteTask(req, { taskId: task.id, kind, ahead, replayed });
    // The task as answered: as created, or (Prefer: wait) once finished or the wait is over.
    const done = pref.mode === 'wait' ? await waitForEnd({ ...followDeps, store }, task.id, pref.waitMs, closedSignal(req)) : undefined;
    const current = done ?? (pref.mode === 'wait' ? await visibleTask(req, task.id) : task);
    if (current.family !== lumaFamily.name) throw new NotFoundError(`generation not found: ${task.id}`);
    taskHeader(reply, task.id);
    return reply
      .status(pref.mode === 'async' && !replayed ? 202 : 200)
      .header('location', `/luma/generations/${task.id}`)
      .send(toLumaGeneration(current));
  }

  return async function plugin(app: FastifyInstance) {
    const generate = async (req: FastifyRequest, reply: FastifyReply) => {
      const b = parse(generationBody, req.body);
      if (!b.user_prompt && !b.prompt && !b.image_url && !b.image_end_url) throw new ValidationError('user_prompt', 'is required (or give image_url)');
      return submit(req, reply, 'luma.generation', b, null);
    };
    // Luma-API registers both; its clients use both.
    app.post('/generations', { schema: docs.generate }, generate);
    app.post('/generations/', { schema: docs.generate }, generate);

    app.post('/generations/:task_id/extend', { schema: docs.extend }, async (req, reply) => {
      const { task_id } = parse(taskIdParams, req.params, 'task_id');
      const b = parse(generationBody, req.body);
      const parent = await visibleTask(req, task_id);
      if (parent.status !== 'succeeded') throw new ValidationError('task_id', `the generation to extend must be completed (it is ${toLumaGeneration(parent).state})`);
      return submit(req, reply, 'luma.extend', b, parent.id);
    });

    app.get('/generations/:task_id', { schema: docs.get }, async (req, reply) => {
      const { task_id } = parse(taskIdParams, req.params, 'task_id');
      const task = await visibleTask(req, task_id);
      taskHeader(reply, task.id);
      return toLumaGeneration(task);
    });

    // Luma-API's link without the watermark; relayq has the one link the upstream gave.
    app.get('/generations/:task_id/download_video_url', { schema: docs.download }, async (req, reply) => {
      const { task_id } = parse(taskIdParams, req.params, 'task_id');
      const g = toLumaGeneration(await visibleTask(req, task_id));
      taskHeader(reply, g.id);
      if (!g.video?.download_url) throw new ValidationError('task_id', `the generation has no video yet (it is ${g.state})`);
      return { url: g.video.download_url };
    });
  };
}
