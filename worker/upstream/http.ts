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
  timeoutMs: number;
  /** Aborted when the client cancels the task. */
  signal?: AbortSignal;
}

/**
 * One upstream HTTP call, classified in the one place that knows how: the result is parsed JSON,
 * or a RetryableUpstreamError / PermanentUpstreamError / CanceledError.
 */
export async function requestJson(url: string, opts: RequestOptions): Promise<unknown> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'POST',
      headers: { accept: 'application/json', ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
      signal,
    });
    text = await res.text();
  } catch (err) {
    if (opts.signal?.aborted) throw new CanceledError();
    if (timeout.aborted) throw new RetryableUpstreamError(`upstream timed out after ${Math.round(opts.timeoutMs / 1000)} s`);
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new RetryableUpstreamError(`upstream connection failed${cause?.code ? ` (${cause.code})` : ''}`);
  }
  if (RETRYABLE_STATUSES.has(res.status)) {
    throw new RetryableUpstreamError(`upstream answered ${res.status}: ${upstreamMessage(text)}`, res.status, parseRetryAfter(res.headers.get('retry-after')));
  }
  if (res.status >= 400) throw new PermanentUpstreamError(upstreamMessage(text), res.status);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PermanentUpstreamError(`malformed upstream response (HTTP ${res.status}, not JSON)`, res.status);
  }
}
