import { CanceledError, PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';

/** HTTP statuses worth retrying (SPEC §7); every other 4xx/5xx is permanent. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The message an upstream gave for a refusal, from the common JSON error shapes. */
function upstreamMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { description?: unknown; error?: { message?: unknown } | string; message?: unknown };
    if (typeof j.description === 'string') return j.description;
    if (typeof j.error === 'string') return j.error;
    if (typeof j.error?.message === 'string') return j.error.message;
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 300) || 'no body';
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  json?: unknown;
  /** A raw body (JSON bytes, FormData); wins over `json`. */
  body?: string | Buffer | FormData;
  timeoutMs: number;
  /** Aborted when the client cancels the task. */
  signal?: AbortSignal;
}

/**
 * Sends one upstream request. Network failures become RetryableUpstreamError (or CanceledError when
 * the client canceled); the response is returned with its body unread, whatever its status.
 * The timeout covers the whole exchange, body included, through the returned signal.
 */
export async function send(url: string, opts: RequestOptions): Promise<{ res: Response; timeout: AbortSignal }> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const json = opts.body === undefined && opts.json !== undefined;
  try {
    const res = await fetch(url, {
      method: opts.method ?? 'POST',
      headers: { accept: 'application/json', ...(json ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      body: opts.body ?? (json ? JSON.stringify(opts.json) : undefined),
      signal,
    });
    return { res, timeout };
  } catch (err) {
    throw networkError(err, opts, timeout);
  }
}

/** Classifies a failure while sending or reading. */
export function networkError(err: unknown, opts: Pick<RequestOptions, 'signal' | 'timeoutMs'>, timeout: AbortSignal): Error {
  if (opts.signal?.aborted) return new CanceledError();
  if (timeout.aborted) return new RetryableUpstreamError(`upstream timed out after ${Math.round(opts.timeoutMs / 1000)} s`);
  const cause = (err as { cause?: { code?: string } }).cause;
  return new RetryableUpstreamError(`upstream connection failed${cause?.code ? ` (${cause.code})` : ''}`);
}

/** Throws the error a non-2xx status means; the upstream's message and body travel with it. */
export function checkStatus(res: Response, body: Buffer): void {
  if (res.ok) return;
  const text = body.toString('utf8');
  if (RETRYABLE_STATUSES.has(res.status)) {
    throw new RetryableUpstreamError(`upstream answered ${res.status}: ${upstreamMessage(text)}`, res.status, parseRetryAfter(res.headers.get('retry-after')));
  }
  throw new PermanentUpstreamError(upstreamMessage(text), res.status, undefined, { body, contentType: res.headers.get('content-type') ?? 'application/json' });
}

/** Reads the whole body, classifying a failure half-way as a network error. */
export async function readBody(res: Response, opts: Pick<RequestOptions, 'signal' | 'timeoutMs'>, timeout: AbortSignal): Promise<Buffer> {
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    throw networkError(err, opts, timeout);
  }
}

/** One upstream call whose answer is JSON: the parsed body, or a classified error. */
export async function requestJson(url: string, opts: RequestOptions): Promise<unknown> {
  const { res, timeout } = await send(url, opts);
  const body = await readBody(res, opts, timeout);
  checkStatus(res, body);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new PermanentUpstreamError(`malformed upstream response (HTTP ${res.status}, not JSON)`, res.status);
  }
}
