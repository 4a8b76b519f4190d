import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Config } from '../../shared/config.js';
import { StoreUnavailableError, TooLargeError, ValidationError } from '../../shared/errors.js';
import { requestJobOf } from '../../shared/jobs/registry.js';
import { globalKeys } from '../../shared/keys.js';
import { ENDPOINTS, type EndpointPath } from '../../shared/openai/endpoints.js';
import type { Queues } from '../../shared/queues.js';
import type { RedisClient } from '../../shared/redis.js';
import { nextMessage, type Signals } from '../../shared/signals.js';
import { isTerminal, WEBHOOK_EVENT_TYPES, type Task, type WebhookEventType, type WebhookTarget } from '../../shared/tasks/model.js';
import { newTask } from '../../shared/tasks/new.js';
import type { Blobs, TaskStore } from '../../shared/tasks/store.js';
import { readForm } from './openai-form.js';
import { parse } from '../errors.js';
import { isHttpUrl } from '../http-url.js';
import { follow } from '../follow.js';
import { replyAccepted, replyWithTask } from '../replay.js';
import { streamTokens } from '../sse.js';
import { idempotencyKeyOf, type Submitter } from '../submit.js';
import * as s from './openai-schemas.js';

export interface OpenAiRouteDeps {
  config: Config;
  redis: RedisClient;
  store: TaskStore;
  queues: Queues;
  signals: Signals;
  submitter: Submitter;
  shutdown: AbortSignal;
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

/**
 * `Prefer: respond-async` answers 202 at once; `Prefer: wait=N` waits up to N seconds
 * (default SYNC_WAIT_SECONDS) before answering 202.
 */
export function parsePrefer(header: string | string[] | undefined, defaultSeconds: number): number {
  const tokens = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(/[,;]/).map((t) => t.trim().toLowerCase());
  const wait = tokens.map((t) => /^wait\s*=\s*(\d+)$/.exec(t)?.[1]).find((v) => v !== undefined);
  if (wait !== undefined) return Math.min(Number(wait), 3600) * 1000;
  return tokens.includes('respond-async') ? 0 : defaultSeconds * 1000;
}

const EVENT_NAMES = new Map<string, WebhookEventType>(WEBHOOK_EVENT_TYPES.flatMap((t) => [[t, t] as const, [t.slice(5), t] as const]));

/** `X-Webhook-Url` (and the optional `X-Webhook-Events` filter) of a /v1 submission. */
export function webhookOf(headers: Record<string, string | string[] | undefined>): WebhookTarget | null {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const url = one('x-webhook-url');
  const events = one('x-webhook-events');
  if (url === undefined) {
    if (events !== undefined) throw new ValidationError('X-Webhook-Events', 'needs X-Webhook-Url');
    return null;
  }
  if (!isHttpUrl(url)) throw new ValidationError('X-Webhook-Url', 'must be an http(s) URL of at most 2000 characters');
  let filter: WebhookEventType[] | null = null;
  if (events !== undefined) {
    filter = [];
    for (const name of events.split(',').map((e) => e.trim()).filter(Boolean)) {
      const type = EVENT_NAMES.get(name);
      if (!type) throw new ValidationError('X-Webhook-Events', `"${name}" is not one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
      filter.push(type);
    }
    if (filter.length === 0) throw new ValidationError('X-Webhook-Events', 'must name at least one event type');
  }
  return { url, format: 'generic', events: filter };
}

/** The OpenAI-compatible routes: every call is a task on the queue of its workload. */
export function openaiRoutes(deps: OpenAiRouteDeps) {
  const { config, store, submitter } = deps;
  const followDeps = { signals: deps.signals, prefix: config.QUEUE_PREFIX, shutdown: deps.shutdown };

  async function waitForTask(id: string, ms: number): Promise<Task | undefined> {
    if (ms <= 0) return undefined;
    return follow(followDeps, id, ms, async () => {
      const t = await store.get(id);
      return t && isTerminal(t.status) ? t : undefined;
    });
  }

  async function submitAndAnswer(req: FastifyRequest, reply: FastifyReply, endpoint: EndpointPath, meta: { model: string | null; stream: boolean }, blobs: Blobs) {
    const ep = ENDPOINTS[endpoint];
    const webhook = webhookOf(req.headers);
    const waitMs = parsePrefer(req.headers.prefer, config.SYNC_WAIT_SECONDS);
    const stream = meta.stream && ep.streamable;
    const { task, ahead, replayed } = await submitter.submit({
      tenant: req.principal.tenant,
      queue: ep.queue,
      job: requestJobOf[ep.queue],
      blobs,
      idempotencyKey: idempotencyKeyOf(req),
      build: (id) => newTask({ id, kind: ep.kind, tenant: req.principal.tenant, webhook, openai: { endpoint, model: meta.model, stream, multipart: ep.body === 'multipart' } }),
    });
    req.log.info({ taskId: task.id, kind: ep.kind, ahead, replayed, stream, waitMs }, 'task accepted');
    if (stream && waitMs > 0) return streamTokens(req, reply, { ...followDeps, redis: deps.redis, store }, task, waitMs);
    const done = await waitForTask(task.id, waitMs);
    if (done) return replyWithTask(req, reply, store, done);
    return replyAccepted(req, reply, (await store.get(task.id)) ?? task, ahead, replayed ? 200 : 202);
  }

  function jsonRoute(app: FastifyInstance, endpoint: EndpointPath, schema: z.ZodType<{ model?: string | null; stream?: boolean | null }>) {
    app.post(`/v1/${endpoint}`, async (req, reply) => {
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
    app.post(`/v1/${endpoint}`, async (req, reply) => {
      const contentType = req.headers['content-type'] ?? '';
      if (!Buffer.isBuffer(req.body) || !/^multipart\/form-data\b/i.test(contentType)) throw new ValidationError('body', 'must be multipart/form-data');
      const body = parse(schema, readForm(req.body, contentType, s.FORM_FILES[endpoint], config.BLOB_MAX_BYTES));
      return submitAndAnswer(req, reply, endpoint, { model: body.model ?? null, stream: false }, { request: { type: contentType, data: req.body } });
    });
  }

  return async function plugin(app: FastifyInstance) {
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, envelope: 'openai' };
    });
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
    formRoute(app, 'audio/transcriptions', s.transcriptionForm);
    formRoute(app, 'audio/translations', s.translationForm);

    app.get('/v1/models', async (_req, reply) => {
      const key = globalKeys(config.QUEUE_PREFIX).models;
      const read = () => deps.redis.get(key).catch((err: unknown) => Promise.reject(new StoreUnavailableError(err)));
      let list = await read();
      if (!list) {
        // A worker asks the upstream and caches the answer for five minutes.
        await nextMessage(deps.signals, key, 15_000, async () => {
          await deps.queues.get({ queue: 'text', shard: 0 }).add('openai.models', { taskId: 'models' }, { jobId: `models-${Date.now()}`, lifo: true, removeOnComplete: true, removeOnFail: true });
        });
        list = await read();
      }
      if (!list) return reply.status(502).send({ error: { message: 'the upstream model list is unavailable', type: 'upstream_error', param: null, code: null } });
      return reply.type('application/json').send(list);
    });
  };
}
