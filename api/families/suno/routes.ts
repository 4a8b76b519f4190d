import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, ValidationError } from '../../../shared/errors.js';
import { clipsOf } from '../../../shared/families/suno/upstream.js';
import { newSunoTask, type SunoKind, type SunoRequest, type SunoTask } from '../../../shared/families/suno/task.js';
import { toSunoTask } from '../../../shared/families/suno/view.js';
import { isTerminal, type WebhookTarget } from '../../../shared/tasks/model.js';
import { canSee } from '../../auth.js';
import { parse } from '../../errors.js';
import { noteTask } from '../../request-log.js';
import { checkWebhookTarget, webhookOf } from '../../http-url.js';
import { parsePrefer } from '../../prefer.js';
import { idempotencyKeyOf } from '../../submit.js';
import type { FamilyRouteDeps } from '../types.js';
import { docs } from './docs.js';
import * as s from './schemas.js';

/** suno-api's envelope of every answer: `{code: "success", message, data}`. */
const success = (data: unknown) => ({ code: 'success', message: '', data });

/** Fields of a submit body relayq consumes itself: `task_id` names the parent, `notify_hook` is delivered by relayq. */
const OWN_FIELDS = new Set(['task_id', 'notify_hook']);

/**
 * The upstream body: the client's fields as sent, known ones in their parsed types, minus the
 * fields relayq consumes (the upstream never learns relayq ids or the client's hook).
 */
function upstreamBody(raw: unknown, parsed: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) if (!OWN_FIELDS.has(k)) out[k] = k in parsed && parsed[k] !== undefined ? parsed[k] : v;
  return out;
}

/** The Suno routes: submit music and lyrics, fetch one task or many, in suno-api's envelope. */
export function sunoRoutes(deps: FamilyRouteDeps) {
  const { store, submitter, config } = deps;

  /** A Suno task this principal may see; 404 for anything else, another family's task included. */
  async function visibleTask(req: FastifyRequest, id: string, what = 'task'): Promise<SunoTask> {
    const task = await store.get(id);
    if (!task || task.family !== 'suno' || !canSee(req.principal, task)) throw new NotFoundError(`${what} not found: ${id.slice(0, 64)}`);
    return task;
  }

  /**
   * Where the task's changes go: `X-Webhook-Url` (the generic body) when sent, else the body's
   * `notify_hook` (the Suno task object, as a fetch shows it).
   */
  function webhookFor(req: FastifyRequest, notifyHook: string | undefined): WebhookTarget | null {
    const generic = webhookOf(req.headers, config.WEBHOOK_ALLOW_PRIVATE);
    if (generic) return generic;
    if (!notifyHook) return null;
    checkWebhookTarget('notify_hook', notifyHook, config.WEBHOOK_ALLOW_PRIVATE);
    return { url: notifyHook, format: 'suno', events: null };
  }

  /**
   * An extend: the parent must be this tenant's Suno music task, already submitted upstream (its
   * channel holds the clip), and, when its clips are known, `continue_clip_id` one of them (a
   * finished task without clips has nothing to extend).
   */
  async function parentOf(req: FastifyRequest, b: s.MusicBody): Promise<SunoTask | null> {
    if (!b.continue_clip_id) return null;
    const parent = await visibleTask(req, b.task_id!, 'parent task');
    if (parent.kind !== 'suno.music') throw new ValidationError('task_id', 'must name a music task (lyrics have no clips to extend)');
    const clips = clipsOf(parent.data);
    if (clips.length === 0 && isTerminal(parent.status)) throw new ValidationError('task_id', `the task made no clips (it is ${toSunoTask(parent).status})`);
    if (!parent.upstream?.channel) throw new ValidationError('task_id', 'the task has not reached its upstream yet; extend it once its clips exist');
    if (clips.length > 0 && !clips.some((c) => String(c.id) === b.continue_clip_id)) {
      throw new ValidationError('continue_clip_id', `is not a clip of task ${parent.id}`);
    }
    return parent;
  }

  async function submit(req: FastifyRequest, reply: FastifyReply, kind: SunoKind, suno: SunoRequest, webhook: WebhookTarget | null, parent: SunoTask | null) {
    // An extend goes to the channel that holds its parent's clip: another account does not have it.
    const upstream = parent?.upstream ? { channel: parent.upstream.channel, id: null, status: null } : null;
    const { task, ahead, replayed } = await submitter.submit({
      tenant: req.principal.tenant,
      queue: 'suno',
      job: 'suno.submit',
      idempotencyKey: idempotencyKeyOf(req),
      build: (id) => newSunoTask({ id, kind, tenant: req.principal.tenant, suno, webhook, upstream }),
    });
    noteTask(req, { taskId: task.id, kind, ahead, replayed });
    void reply.header('x-relayq-task-id', task.id);
    // The submit is asynchronous whatever the client prefers: say that `respond-async` was honoured.
    if (parsePrefer(req.headers.prefer, 0).mode === 'async') void reply.header('preference-applied', 'respond-async');
    return success(task.id);
  }

  return async function plugin(app: FastifyInstance) {
    // suno-api upper-cases the action (new-api calls its upstream at /suno/submit/MUSIC).
    app.post('/suno/submit/:action', { schema: docs.submit }, async (req, reply) => {
      const action = String((req.params as { action?: unknown }).action ?? '').toLowerCase();
      if (action === 'music') {
        const b = parse(s.musicBody, req.body);
        const webhook = webhookFor(req, b.notify_hook);
        const parent = await parentOf(req, b);
        const suno: SunoRequest = { body: upstreamBody(req.body, b), parentId: parent?.id ?? null, mv: b.mv ?? null };
        return submit(req, reply, 'suno.music', suno, webhook, parent);
      }
      if (action === 'lyrics') {
        const b = parse(s.lyricsBody, req.body);
        const webhook = webhookFor(req, b.notify_hook);
        return submit(req, reply, 'suno.lyrics', { body: upstreamBody(req.body, b), parentId: null, mv: null }, webhook, null);
      }
      throw new ValidationError('action', `must be music or lyrics (POST /suno/submit/music or /suno/submit/lyrics), not "${action.slice(0, 40)}"`);
    });

    app.get('/suno/fetch/:id', { schema: docs.fetchOne }, async (req, reply) => {
      const { id } = parse(s.idParams, req.params, 'id');
      const task = await visibleTask(req, id);
      void reply.header('x-relayq-task-id', task.id);
      return success(toSunoTask(task));
    });

    app.post('/suno/fetch', { schema: docs.fetchMany }, async (req) => {
      const { ids } = parse(s.fetchBody, req.body);
      const tasks = await store.getMany([...new Set(ids)]);
      return success(tasks.filter((t): t is SunoTask => t.family === 'suno' && canSee(req.principal, t)).map(toSunoTask));
    });
  };
}
