import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ConflictError, NotFoundError, TooLargeError, ValidationError } from '../../../shared/errors.js';
import type { VideoKind, VideoRequest, VideoTask } from '../../../shared/families/video/task.js';
import { newVideoTask } from '../../../shared/families/video/task.js';
import { toVideoObject, videoStatusOf } from '../../../shared/families/video/view.js';
import { createInflight } from '../../../shared/protocols/inflight.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { Blob } from '../../../shared/tasks/store.js';
import { canSee } from '../../auth.js';
import { cancelTask } from '../../cancel.js';
import { parse } from '../../errors.js';
import { noteTask } from '../../request-log.js';
import { follow } from '../../follow.js';
import { webhookOf } from '../../http-url.js';
import { parsePrefer } from '../../prefer.js';
import { replyWithTask, taskHeader } from '../../replay.js';
import { idempotencyKeyOf } from '../../submit.js';
import type { FamilyRouteDeps } from '../types.js';
import { docs } from './docs.js';
import { streamContent } from './content.js';
import { readVideoForm } from './form.js';
import { listVideos } from './list.js';
import * as s from './schemas.js';

/**
 * How long a create waits for the upstream to take the video (ms): a refusal (a bad size, a
 * moderation block) then reaches the client as the upstream's own error, as a direct call would.
 */
const ACCEPT_WAIT_MS = 10_000;

/**
 * Aborts when the client goes away before its answer is sent. It listens on this answer, not on
 * the socket, which a keep-alive client reuses for many requests.
 */
function leftSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => ac.abort());
  return ac.signal;
}

/** JSON bodies as received: they are forwarded upstream byte for byte. */
const rawJson = new WeakMap<FastifyRequest, Buffer>();

/**
 * The OpenAI Videos API (`/v1/videos`): create (JSON or multipart), retrieve, list, delete,
 * content, remix. Ids are relayq's; the upstream's stay on the task. Answers carry the OpenAI
 * Video object, and `openai-poll-after-ms` while a video is unfinished, so SDK pollers wait as
 * long as relayq's own poll of the upstream (UPSTREAM_POLL_INTERVAL_MS) before asking again.
 */
export function videoRoutes(deps: FamilyRouteDeps) {
  const { config, store, submitter } = deps;
  const followDeps = { signals: deps.signals, prefix: config.QUEUE_PREFIX, shutdown: deps.shutdown };
  const inflight = createInflight({ redis: deps.redis, prefix: config.QUEUE_PREFIX });
  const contentDeps = { registry: deps.registry, timeoutSeconds: config.UPSTREAM_TIMEOUT_SECONDS, shutdown: deps.shutdown, allowPrivate: config.ARCHIVE_ALLOW_PRIVATE };

  /** A video this principal may see; 404 for anything else (another tenant's, another family's, a deleted one). */
  async function visibleVideo(req: FastifyRequest): Promise<VideoTask> {
    const { video_id: id } = parse(s.videoParams, req.params, 'video_id');
    const task = await store.get(id);
    if (!task || task.family !== 'video' || task.deleted_at || !canSee(req.principal, task)) throw new NotFoundError(`no video with id '${id.slice(0, 64)}'`);
    return task;
  }

  function answer(reply: FastifyReply, task: VideoTask, status = 200) {
    taskHeader(reply, task.id);
    if (!isTerminal(task.status)) void reply.header('openai-poll-after-ms', String(config.UPSTREAM_POLL_INTERVAL_MS));
    if (status === 202) void reply.header('location', `/v1/videos/${task.id}`);
    return reply.status(status).send(toVideoObject(task));
  }

  /** The request as the upstream gets it (the JSON or multipart body as sent) and its fields, checked. */
  function bodyOf<J extends z.ZodType, F extends z.ZodType>(req: FastifyRequest, json: J, form: F): { fields: z.infer<J> | z.infer<F>; blob: Blob } {
    const contentType = req.headers['content-type'] ?? '';
    if (Buffer.isBuffer(req.body) && /^multipart\/form-data\b/i.test(contentType)) {
      const { values } = readVideoForm(req.body, contentType, config.BLOB_MAX_BYTES);
      return { fields: parse(form, values), blob: { type: contentType, data: req.body } };
    }
    const fields = parse(json, req.body);
    const data = s.textFieldsOf(req.body, rawJson.get(req) ?? Buffer.from(JSON.stringify(req.body ?? {})));
    if (data.length > config.BLOB_MAX_BYTES) throw new TooLargeError('body', `is larger than BLOB_MAX_BYTES (${config.BLOB_MAX_BYTES} bytes)`);
    return { fields, blob: { type: 'application/json', data } };
  }

  /**
   * Creates the task and answers the Video object. By default once the upstream took the video
   * (or refused it: then with the upstream's own error), at most ACCEPT_WAIT_MS; `Prefer:
   * respond-async` at once (202); `Prefer: wait=N` once it finished, or after N s (202).
   */
  async function submitVideo(req: FastifyRequest, reply: FastifyReply, kind: VideoKind, video: VideoRequest, blob: Blob, extra: Partial<VideoTask> = {}) {
    const tenant = req.principal.tenant;
    const webhook = webhookOf(req.headers, config.WEBHOOK_ALLOW_PRIVATE);
    const pref = parsePrefer(req.headers.prefer, config.SYNC_WAIT_SECONDS);
    const { task, ahead, replayed } = await submitter.submit({
      tenant,
      queue: 'video',
      job: 'video.submit',
      blobs: { request: blob },
      idempotencyKey: idempotencyKeyOf(req),
      build: (id) => newVideoTask({ id, kind, tenant, video, webhook, ...extra }),
    });
    noteTask(req, { taskId: task.id, kind, ahead, replayed, mode: pref.mode });
    if (pref.mode === 'async') return answer(reply, task as VideoTask, replayed ? 200 : 202);
    const ready = (t: VideoTask) => (pref.mode === 'wait' ? isTerminal(t.status) : t.status !== 'queued');
    const step = async () => {
      const t = await store.get(task.id);
      return t?.family === 'video' && ready(t) ? t : undefined;
    };
    const found = await follow(followDeps, task.id, pref.mode === 'wait' ? pref.waitMs : ACCEPT_WAIT_MS, step, { closed: leftSignal(reply) });
    const latest = found ?? (await store.get(task.id)) ?? task;
    const current = (latest.family === 'video' ? latest : task) as VideoTask;
    // Refused before the upstream took it: answered as a direct call would have been.
    if (current.status === 'failed' && !current.upstream?.id) return replyWithTask(reply, store, current);
    return answer(reply, current, pref.mode === 'wait' && !isTerminal(current.status) ? 202 : 200);
  }

  return async function plugin(app: FastifyInstance) {
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
      rawJson.set(req, body);
      try {
        done(null, body.length ? JSON.parse(body.toString('utf8')) : {});
      } catch {
        done(new ValidationError('body', 'is not valid JSON'), undefined);
      }
    });
    // Multipart bodies are read whole (within MAX_BODY_BYTES) and kept as bytes.
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body: Buffer, done) => done(null, body));

    app.post('/v1/videos', { schema: docs.create }, async (req, reply) => {
      const { fields, blob } = bodyOf(req, s.createBody, s.createForm);
      const seconds = fields.seconds === undefined || fields.seconds === null ? null : String(fields.seconds);
      const video: VideoRequest = { model: fields.model ?? null, prompt: fields.prompt, seconds, size: fields.size ?? null, remixed_from_video_id: null };
      return submitVideo(req, reply, 'video.generation', video, blob);
    });

    app.get('/v1/videos', { schema: docs.list }, async (req) => {
      const q = parse(s.listQuery, req.query, 'query');
      const { data, has_more } = await listVideos(store, req.principal.tenant, q);
      return { object: 'list', data: data.map(toVideoObject), first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more };
    });

    app.get('/v1/videos/:video_id', { schema: docs.get }, async (req, reply) => answer(reply, await visibleVideo(req)));

    // Deleting an unfinished video cancels it; either way the upstream is asked to delete its copy.
    app.delete('/v1/videos/:video_id', { schema: docs.delete }, async (req, reply) => {
      const found = await visibleVideo(req);
      taskHeader(reply, found.id);
      // Canceling also queues the upstream delete of a video the upstream holds; one that
      // finished meanwhile is deleted below like any finished video.
      const task = isTerminal(found.status)
        ? found
        : (((await cancelTask(deps.cancel, found).catch(async (err: unknown) => {
            if (!(err instanceof ConflictError)) throw err;
            return store.get(found.id);
          })) ?? found) as VideoTask);
      await store.annotate(task.id, { deleted_at: Date.now() });
      if (task.status !== 'canceled' && task.upstream?.id) await inflight.cancelUpstream(task.id, { channel: task.upstream.channel, id: task.upstream.id });
      return { id: task.id, object: 'video.deleted', deleted: true };
    });

    app.get('/v1/videos/:video_id/content', { schema: docs.content }, async (req, reply) => {
      const task = await visibleVideo(req);
      const { variant } = parse(s.contentQuery, req.query, 'query');
      if (task.status !== 'succeeded') throw new ValidationError('video_id', `the video is not completed (it is ${videoStatusOf(task)}); download it once its status is completed`);
      taskHeader(reply, task.id);
      return streamContent(req, reply, contentDeps, task, variant);
    });

    app.post('/v1/videos/:video_id/remix', { schema: docs.remix }, async (req, reply) => {
      const parent = await visibleVideo(req);
      const { fields, blob } = bodyOf(req, s.remixBody, s.remixBody);
      if (parent.status !== 'succeeded' || !parent.upstream?.id) throw new ValidationError('video_id', `must be a completed video to remix (it is ${videoStatusOf(parent)})`);
      const r = parent.reported;
      const video: VideoRequest = {
        model: r?.model ?? parent.video.model,
        prompt: fields.prompt,
        seconds: r?.seconds ?? parent.video.seconds,
        size: r?.size ?? parent.video.size,
        remixed_from_video_id: parent.id,
      };
      // The remix goes to the channel that made its parent (pinned): another account lacks the video.
      return submitVideo(req, reply, 'video.remix', video, blob, { upstream: { channel: parent.upstream.channel, id: null, status: null } });
    });
  };
}
