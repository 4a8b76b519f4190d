import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import {
  BannedPromptError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  QueueFullError,
  RateLimitedError,
  ShuttingDownError,
  StoreUnavailableError,
  TooLargeError,
  ValidationError,
} from '../shared/errors.js';
import type { ApiFamily } from './families/types.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The family whose error format the route speaks (set by the family's plugin). */
    family?: string;
  }
}

/** Parses input with a zod schema; the first problem becomes a ValidationError naming its field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, root = 'body'): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue ? fieldName(issue.path) : root;
  throw new ValidationError(field || root, issue?.message ?? 'is invalid');
}

function fieldName(path: PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/**
 * An error as the API answers it, before a family's format: the HTTP status, a type in the
 * OpenAI-style vocabulary (`invalid_request_error`, `not_found_error`, `rate_limit_exceeded`,
 * `service_unavailable`, …), the message (which names the field first), the field, facts a family
 * format may carry (`bannedWord`), and the seconds to wait before a retry.
 */
export interface ErrorReply {
  status: number;
  type: string;
  message: string;
  param?: string;
  details?: Record<string, unknown>;
  retryAfter?: number;
}

function map(err: unknown): ErrorReply {
  if (err instanceof TooLargeError)
    return { status: 413, type: 'invalid_request_error', message: err.message, param: err.field };
  if (err instanceof ValidationError)
    return { status: 400, type: 'invalid_request_error', message: err.message, param: err.field };
  if (err instanceof ForbiddenError) return { status: 403, type: 'permission_error', message: err.message };
  if (err instanceof NotFoundError) return { status: 404, type: 'not_found_error', message: err.message };
  if (err instanceof ConflictError)
    return { status: 409, type: 'invalid_request_error', message: err.message, param: err.field };
  if (err instanceof BannedPromptError)
    return {
      status: 400,
      type: 'invalid_request_error',
      message: err.message,
      param: 'prompt',
      details: { bannedWord: err.bannedWord },
    };
  if (err instanceof QueueFullError)
    return { status: 429, type: 'queue_full', message: err.message, retryAfter: 5 };
  if (err instanceof RateLimitedError)
    return { status: 429, type: 'rate_limit_exceeded', message: err.message, retryAfter: err.retryAfterSeconds };
  if (err instanceof ShuttingDownError)
    return { status: 503, type: 'service_unavailable', message: err.message, retryAfter: 1 };
  if (err instanceof StoreUnavailableError)
    return { status: 503, type: 'service_unavailable', message: 'storage unavailable, nothing was stored; retry later', retryAfter: 1 };
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, type: 'invalid_request_error', message: 'body: is larger than MAX_BODY_BYTES', param: 'body' };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, type: 'invalid_request_error', message: `body: ${fe.message}`, param: 'body' };
  return { status: 500, type: 'internal_error', message: 'internal error' };
}

/** The core's error body (the OpenAI-style envelope), for every route no family formats its own way. */
export function genericErrorBody(e: ErrorReply) {
  return { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.type } };
}

/**
 * The one place errors become HTTP statuses and bodies: the mapping is the core's, the body is in
 * the format of the family the request speaks (its route's, or the one that claims its URL),
 * else the core's own.
 */
export function createErrorReplies(families: readonly ApiFamily[]) {
  const byName = new Map(families.map((f) => [f.name, f]));
  /** The family whose format a request speaks, if any. */
  const familyOf = (req: FastifyRequest) => byName.get(req.routeOptions.config?.family ?? '') ?? families.find((f) => f.claims?.(req.url));
  /** The body of an error reply for a request, or for a raw URL when there is no request yet. */
  const bodyFor = (family: ApiFamily | undefined, e: ErrorReply) => (family?.errorBody ? family.errorBody(e) : genericErrorBody(e));

  function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply) {
    const m = map(err);
    if (m.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ status: m.status, type: m.type }, 'request refused');
    // The official OpenAI SDKs obey x-should-retry over their own rules: only a busy or
    // unavailable relayq is worth another try; bad input stays bad.
    const retry = m.status === 429 || m.status === 503;
    void reply.header('x-should-retry', String(retry));
    if (m.retryAfter) void reply.header('retry-after', String(m.retryAfter)).header('retry-after-ms', String(m.retryAfter * 1000));
    if (m.status === 413) drainUpload(req, reply);
    return reply.status(m.status).send(bodyFor(familyOf(req), m));
  }

  return {
    errorHandler,
    /**
     * An answer the core makes itself (401, 404 of an unknown route), in the request's format;
     * final, like every refusal of the request itself (`x-should-retry: false`).
     */
    reply: (req: FastifyRequest, reply: FastifyReply, e: ErrorReply) => reply.status(e.status).header('x-should-retry', 'false').send(bodyFor(familyOf(req), e)),
    /** The body for a request line only (Node's parser refused the request: no route, no request object). */
    bodyForUrl: (url: string, e: ErrorReply) => bodyFor(families.find((f) => f.claims?.(url)), e),
    /**
     * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs, answered
     * like every other error. A path with malformed percent-encoding (`/v1/tasks/%E0%A4%A`,
     * FST_ERR_BAD_URL) and a path parameter over `maxParamLength` (FST_ERR_MAX_PARAM_LENGTH) are
     * 400s naming `url`; anything else goes through errorHandler.
     */
    frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
      if (err.code === 'FST_ERR_BAD_URL') return errorHandler(new ValidationError('url', 'is not a valid URL: its path holds a malformed percent-encoding (%XX)'), req, reply);
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return errorHandler(new ValidationError('url', 'has a path segment that is too long'), req, reply);
      return errorHandler(err, req, reply);
    },
  };
}

export type ErrorReplies = ReturnType<typeof createErrorReplies>;

/** The most of a refused upload read (and thrown away) so its sender gets to see the answer. */
const DRAIN_MAX_BYTES = 256 * 1024 * 1024;
const DRAIN_MAX_MS = 30_000;

/**
 * A client that writes a large body in one go (no `Expect: 100-continue`) only reads the answer
 * once it has written everything: closing the connection on it right after the 413 makes it see
 * a reset (EPIPE) instead. So the connection stays open and the rest of the upload is read and
 * discarded (Node does that for a keep-alive connection), within DRAIN_MAX_BYTES and
 * DRAIN_MAX_MS; past either bound the socket is closed.
 */
function drainUpload(req: FastifyRequest, reply: FastifyReply) {
  const raw = req.raw;
  if (raw.complete) return;
  reply.removeHeader('connection');
  // A client that sent `Connection: close` would have its socket closed by Node right after the
  // answer, while it still writes: keep it open until the upload is read, then close it.
  const closeAfter = /\bclose\b/i.test(String(req.headers.connection ?? ''));
  // (An explicit `Connection: close` header would make Node close at once, so none is sent.)
  if (closeAfter) reply.raw.shouldKeepAlive = true;
  let read = 0;
  const socket = raw.socket;
  const timer = setTimeout(() => socket.destroy(), DRAIN_MAX_MS).unref();
  raw.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > DRAIN_MAX_BYTES) socket.destroy();
  });
  raw.once('end', () => {
    clearTimeout(timer);
    if (closeAfter) socket.end();
  });
  socket.once('close', () => clearTimeout(timer));
}
