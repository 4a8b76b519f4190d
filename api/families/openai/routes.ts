import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { storeCall, TooLargeError, ValidationError } from '../../../shared/errors.js';
import { requestJobOf } from '../../../shared/families/openai/jobs.js';
import { createModelsCache } from '../../../shared/families/openai/models-cache.js';
import type { OpenAiTask } from '../../../shared/families/openai/task.js';
import { ENDPOINTS, type EndpointPath } from '../../../shared/families/openai/endpoints.js';
import { newTask } from '../../../shared/tasks/new.js';
import type { Blobs } from '../../../shared/tasks/store.js';
import { readForm } from './form.js';
import { parse } from '../../errors.js';
import { noteTask } from '../../request-log.js';
import { webhookOf } from '../../http-url.js';
import { waitForEnd } from '../../follow.js';
import { parsePrefer, sdkRetryCount } from '../../prefer.js';
import { replyAccepted, replyUnfinished, replyWithTask } from '../../replay.js';
import { closedSignal } from '../../sse.js';
import { streamTokens } from './stream.js';
import { callHash, idempotencyKeyOf } from '../../submit.js';
import { abandonOf } from '../../token-relay.js';
import type { FamilyRouteDeps } from '../types.js';
import { docs } from './docs.js';
import * as s from './schemas.js';


declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

/** The OpenAI-compatible routes: every call is a task on the queue of its workload. */
export function openaiRoutes(deps: FamilyRouteDeps) {
  const { config, store, submitter } = deps;
  const followDeps = { signals: deps.signals, prefix: config.QUEUE_PREFIX, shutdown: deps.shutdown };

  const sseDeps = { ...followDeps, redis: deps.redis, store };


  /**
   * Creates the task and answers as the call asked (see api/prefer.ts): a plain call gets the
   * upstream's answer (or a retryable error naming the task, never the task object), `Prefer:
   * wait=N` the answer or the 202 task after N s, `Prefer: respond-async` the 202 task at once.
   * An SDK retry (`x-stainless-retry-count` ≥ 1) of a plain call joins the task the first try
   * made, when it is still running or succeeded, instead of calling the upstream again.
   */
  async function submitAndAnswer(req: FastifyRequest, reply: FastifyReply, endpoint: EndpointPath, meta: { model: string | null; stream: boolean }, blobs: Blobs) {
    const ep = ENDPOINTS[endpoint];
    const webhook = webhookOf(req.headers, config.WEBHOOK_ALLOW_PRIVATE);
    const pref = parsePrefer(req.headers.prefer, config.SYNC_WAIT_SECONDS);
    const stream = meta.stream && ep.streamable;
    const idempotencyKey = idempotencyKeyOf(req);
    const join = pref.mode === 'sync' && idempotencyKey === undefined ? { hash: callHash(endpoint, blobs), retry: sdkRetryCount(req.headers) > 0 } : undefined;
    const { task, ahead, replayed } = await submitter.submit({
      tenant: req.principal.tenant,
      queue: ep.queue,
      job: requestJobOf[ep.queue],
      blobs,
      idempotencyKey,
      join,
      build: (id) => newTask<OpenAiTask>({ id, kind: ep.kind, family: 'openai', tenant: req.principal.tenant, webhook, openai: { endpoint, model: meta.model, stream, multipart: ep.body === 'multipart' } }),
    });
    noteTask(req, { taskId: task.id, kind: ep.kind, ahead, replayed, stream, mode: pref.mode });
    if (pref.mode === 'async') return replyAccepted(req, reply, task, ahead, replayed ? 200 : 202);
    if (stream) return streamTokens(req, reply, sseDeps, task, pref, abandonOf({ pref, idempotencyKey, task, cancel: deps.cancel, graceMs: config.STREAM_ABANDON_GRACE_MS }));
    const done = await waitForEnd({ ...followDeps, store }, task.id, pref.waitMs, closedSignal(req));
    if (done) return replyWithTask(reply, store, done);
    if (pref.mode === 'wait') return replyAccepted(req, reply, (await store.get(task.id)) ?? task, ahead, replayed ? 200 : 202);
    return replyUnfinished(reply, task, deps.shutdown.aborted ? { reason: 'shutdown' } : { reason: 'timeout', waitedMs: pref.waitMs });
  }

  function jsonRoute(app: FastifyInstance, endpoint: EndpointPath & keyof typeof docs, schema: z.ZodType<{ model?: string | null; stream?: boolean | null }>) {
    app.post(`/v1/${endpoint}`, { schema: docs[endpoint] }, async (req, reply) => {
      const body = parse(schema, req.body);
      const raw = req.rawBody ?? Buffer.from(JSON.stringify(req.body));
      if (raw.length > config.BLOB_MAX_BYTES) throw new TooLargeError('body', `is larger than BLOB_MAX_BYTES (${config.BLOB_MAX_BYTES} bytes)`);
      return submitAndAnswer(req, reply, endpoint, { model: body.model ?? null, stream: body.stream === true }, { request: { type: 'application/json', data: raw } });
    });
  }

  /**
   * A multipart route: the body is kept byte for byte with its full content type (boundary
   * included) as the `request` blob and forwarded so, with every part as the client sent it —
   * repeated names, `name[]` arrays, file names, content type parameters, order. A view of it is
   * read only to check it.
   */
  function formRoute(app: FastifyInstance, endpoint: keyof typeof s.FORM_FILES, schema: z.ZodType<{ model?: string }>) {
    app.post(`/v1/${endpoint}`, { schema: docs[endpoint] }, async (req, reply) => {
      const contentType = req.headers['content-type'] ?? '';
      if (!Buffer.isBuffer(req.body) || !/^multipart\/form-data\b/i.test(contentType)) throw new ValidationError('body', 'must be multipart/form-data');
      const body = parse(schema, readForm(req.body, contentType, s.FORM_FILES[endpoint], config.BLOB_MAX_BYTES));
      return submitAndAnswer(req, reply, endpoint, { model: body.model ?? null, stream: false }, { request: { type: contentType, data: req.body } });
    });
  }

  return async function plugin(app: FastifyInstance) {
    // Keep the bytes: bodies are forwarded to the upstream exactly as they came.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
      req.rawBody = body;
      try {
        done(null, body.length ? JSON.parse(body.toString('utf8')) : {});
      } catch {
        done(new ValidationError('body', 'is not valid JSON'), undefined);
      }
    });
    // Multipart bodies are read whole (within MAX_BODY_BYTES, Fastify's body limit) and kept as bytes.
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
      req.rawBody = body;
      done(null, body);
    });

    jsonRoute(app, 'chat/completions', s.chatBody);
    jsonRoute(app, 'completions', s.completionBody);
    jsonRoute(app, 'embeddings', s.embeddingBody);
    jsonRoute(app, 'images/generations', s.imageGenerationBody);
    jsonRoute(app, 'audio/speech', s.speechBody);
    formRoute(app, 'images/edits', s.imageEditForm);
    formRoute(app, 'images/variations', s.imageVariationForm);
    formRoute(app, 'audio/transcriptions', s.transcriptionForm);
    formRoute(app, 'audio/translations', s.translationForm);

    const models = createModelsCache({ redis: deps.redis, prefix: config.QUEUE_PREFIX });
    /** The channels' merged model list (JSON text), cached for five minutes by a worker; null when unavailable. */
    async function modelList(): Promise<string | null> {
      const list = await models.read();
      if (list) return list;
      return models.refresh(deps.signals, 15_000, () => storeCall(() => submitter.enqueue.add('openai.models', { taskId: 'models' }, { jobId: `models-${Date.now()}` })));
    }
    const unavailable = (reply: FastifyReply) =>
      reply.status(502).send({ error: { message: 'the upstream model list is unavailable', type: 'upstream_error', param: null, code: null } });

    app.get('/v1/models', { schema: docs.models }, async (_req, reply) => {
      const list = await modelList();
      return list ? reply.type('application/json').send(list) : unavailable(reply);
    });

    // Model ids may hold slashes (`org/model`, or `org%2Fmodel` as the SDK encodes it), as on
    // OpenRouter-style upstreams. The router has decoded the path once already: decoding again
    // would read `a%25E0` (the id `a%E0`) as a broken escape.
    app.get('/v1/models/*', { schema: docs.model }, async (req, reply) => {
      const id = (req.params as { '*': string })['*'];
      const list = await modelList();
      if (!list) return unavailable(reply);
      let models: { id?: unknown }[] = [];
      try {
        const parsed = JSON.parse(list) as { data?: unknown };
        if (Array.isArray(parsed.data)) models = parsed.data as { id?: unknown }[];
      } catch {
        // an unreadable list has no models
      }
      const model = models.find((m) => m?.id === id);
      if (model) return model;
      return reply.status(404).send({ error: { message: `The model '${id}' does not exist`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    });
  };
}
