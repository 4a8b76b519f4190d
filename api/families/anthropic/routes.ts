import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TooLargeError, ValidationError } from '../../../shared/errors.js';
import { anthropicRequest } from '../../../shared/families/anthropic/jobs.js';
import { newAnthropicTask, type AnthropicRequest } from '../../../shared/families/anthropic/task.js';
import { parse } from '../../errors.js';
import { noteTask } from '../../request-log.js';
import { waitForEnd } from '../../follow.js';
import { webhookOf } from '../../http-url.js';
import { parsePrefer, sdkRetryCount } from '../../prefer.js';
import { replyAccepted } from '../../replay.js';
import { closedSignal } from '../../sse.js';
import { callHash, idempotencyKeyOf } from '../../submit.js';
import { abandonOf } from '../../token-relay.js';
import type { FamilyRouteDeps } from '../types.js';
import { docs } from './docs.js';
import { markTask, replyUnfinishedMessage, replyWithMessage } from './reply.js';
import { countTokens } from './count-tokens.js';
import { countTokensBody, messageBody } from './schemas.js';
import { streamMessage } from './stream.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

/** One header as the client sent it; repeated ones joined with `,` (how `anthropic-beta` lists features). */
function header(req: FastifyRequest, name: string): string | null {
  const v = req.headers[name];
  const joined = Array.isArray(v) ? v.join(',') : v;
  return joined?.trim() ? joined.trim() : null;
}

/**
 * `POST /v1/messages`: every call is a task on the `anthropic` queue, answered as the official
 * Anthropic SDKs expect a direct call to be answered (see api/prefer.ts for `Prefer`): a plain
 * call gets the Message (or the upstream's refusal) however long it takes, up to
 * SYNC_WAIT_SECONDS; a stream call gets the upstream's events as they come; `Prefer: wait=N`
 * the answer or the 202 task after N s; `Prefer: respond-async` the 202 task at once. An SDK
 * retry (`x-stainless-retry-count` ≥ 1) of a plain call joins the task the first try made, when
 * it is still running or succeeded, instead of calling the upstream again.
 */
export function anthropicRoutes(deps: FamilyRouteDeps) {
  const { config, store, submitter } = deps;
  const followDeps = { signals: deps.signals, prefix: config.QUEUE_PREFIX, shutdown: deps.shutdown };
  const sseDeps = { ...followDeps, redis: deps.redis, store };
  const countDeps = { registry: deps.registry, timeoutSeconds: config.UPSTREAM_TIMEOUT_SECONDS };


  async function submitAndAnswer(req: FastifyRequest, reply: FastifyReply, request: AnthropicRequest, raw: Buffer) {
    const webhook = webhookOf(req.headers, config.WEBHOOK_ALLOW_PRIVATE);
    const pref = parsePrefer(req.headers.prefer, config.SYNC_WAIT_SECONDS);
    const idempotencyKey = idempotencyKeyOf(req);
    const blobs = { request: { type: 'application/json', data: raw } };
    // The same body under another version or beta is another call.
    const join = pref.mode === 'sync' && idempotencyKey === undefined ? { hash: callHash(`messages\n${request.version ?? ''}\n${request.beta ?? ''}`, blobs), retry: sdkRetryCount(req.headers) > 0 } : undefined;
    const tenant = req.principal.tenant;
    const { task, ahead, replayed } = await submitter.submit({
      tenant,
      queue: anthropicRequest.queue,
      job: anthropicRequest.name,
      blobs,
      idempotencyKey,
      join,
      build: (id) => newAnthropicTask({ id, tenant, webhook, anthropic: request }),
    });
    noteTask(req, { taskId: task.id, kind: task.kind, ahead, replayed, stream: request.stream, mode: pref.mode });
    markTask(reply, task.id);
    if (pref.mode === 'async') return replyAccepted(req, reply, task, ahead, replayed ? 200 : 202);
    // A replayed task answers as it was made (an Idempotency-Key names the first call).
    if (task.family === 'anthropic' ? task.anthropic.stream : request.stream) {
      return streamMessage(req, reply, sseDeps, task, pref, abandonOf({ pref, idempotencyKey, task, cancel: deps.cancel, graceMs: config.STREAM_ABANDON_GRACE_MS }));
    }
    const done = await waitForEnd({ ...followDeps, store }, task.id, pref.waitMs, closedSignal(req));
    if (done) return replyWithMessage(reply, store, done);
    if (pref.mode === 'wait') return replyAccepted(req, reply, (await store.get(task.id)) ?? task, ahead, replayed ? 200 : 202);
    return replyUnfinishedMessage(reply, task, deps.shutdown.aborted ? { reason: 'shutdown' } : { reason: 'timeout', waitedMs: pref.waitMs });
  }

  return async function plugin(app: FastifyInstance) {
    // Keep the bytes: the body is forwarded to the upstream exactly as it came.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
      req.rawBody = body;
      try {
        done(null, body.length ? JSON.parse(body.toString('utf8')) : {});
      } catch {
        done(new ValidationError('body', 'is not valid JSON'), undefined);
      }
    });

    app.post('/v1/messages', { schema: docs.messages }, async (req, reply) => {
      const body = parse(messageBody, req.body);
      const raw = req.rawBody ?? Buffer.from(JSON.stringify(req.body));
      if (raw.length > config.BLOB_MAX_BYTES) throw new TooLargeError('body', `is larger than BLOB_MAX_BYTES (${config.BLOB_MAX_BYTES} bytes)`);
      const request: AnthropicRequest = { model: body.model, stream: body.stream === true, version: header(req, 'anthropic-version'), beta: header(req, 'anthropic-beta') };
      return submitAndAnswer(req, reply, request, raw);
    });

    app.post('/v1/messages/count_tokens', { schema: docs.countTokens }, async (req, reply) => {
      const body = parse(countTokensBody, req.body);
      const raw = req.rawBody ?? Buffer.from(JSON.stringify(req.body));
      return countTokens(req, reply, countDeps, raw, body.model, { version: header(req, 'anthropic-version'), beta: header(req, 'anthropic-beta') });
    });
  };
}
