import { Agent, fetch, type Response } from 'undici';
import { CanceledError, PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';

/**
 * The connection pool of every upstream call. undici's own header and body timeouts (300 s each
 * in Node's built-in fetch) are off: relayq's idle watchdog below decides, so a long generation
 * or a slow stream is cut only by relayq's own settings.
 */
const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, connectTimeout: 10_000 });

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
  /**
   * Idle timeout, ms: the longest silence between two pieces of the body (and, unless
   * `headersTimeoutMs` says otherwise, the longest wait for the response headers). An answer that
   * keeps flowing is never cut.
   */
  timeoutMs: number;
  /**
   * The longest wait for the response headers, ms, when it differs: an upstream computes a whole
   * (non-stream) answer before it sends anything, so that wait is the generation time.
   */
  headersTimeoutMs?: number;
  /** Aborted when the client cancels the task. */
  signal?: AbortSignal;
}

/**
 * A watchdog for one exchange: it aborts `signal` after `ms` without a sign of life; `touch()`
 * restarts the count, `stop()` ends it. The timer never keeps the process alive.
 */
export interface Idle {
  readonly ms: number;
  readonly signal: AbortSignal;
  /** True once the watchdog fired. */
  readonly fired: boolean;
  /** Whether the count is still the first one (the wait for the response headers). */
  readonly waitingForHeaders: boolean;
  touch(): void;
  stop(): void;
}

/**
 * A watchdog of `ms` milliseconds, started now; its first count (the wait for the response
 * headers) lasts `firstMs`, every count after a `touch()` lasts `ms`.
 */
export function idleTimer(ms: number, firstMs = ms): Idle {
  const ac = new AbortController();
  let stopped = false;
  let current = firstMs;
  let first = true;
  const fire = () => ac.abort(new Error(`no data for ${current} ms`));
  let timer = setTimeout(fire, firstMs);
  timer.unref();
  return {
    get ms() {
      return current;
    },
    signal: ac.signal,
    get fired() {
      return ac.signal.aborted;
    },
    get waitingForHeaders() {
      return first;
    },
    touch() {
      if (stopped || ac.signal.aborted) return;
      first = false;
      if (current === ms) return void timer.refresh();
      clearTimeout(timer);
      current = ms;
      timer = setTimeout(fire, ms);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Sends one upstream request. Network failures become RetryableUpstreamError (or CanceledError when
 * the client canceled); the response is returned with its body unread, whatever its status, with
 * the watchdog that must follow its body (`readBody`, `bodyChunks`).
 */
export async function send(url: string, opts: RequestOptions): Promise<{ res: Response; idle: Idle }> {
  const idle = idleTimer(opts.timeoutMs, opts.headersTimeoutMs ?? opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, idle.signal]) : idle.signal;
  const json = opts.body === undefined && opts.json !== undefined;
  try {
    const res = await fetch(url, {
      method: opts.method ?? 'POST',
      headers: { accept: 'application/json', ...(json ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      body: (opts.body ?? (json ? JSON.stringify(opts.json) : undefined)) as string | Buffer | undefined,
      signal,
      dispatcher,
    });
    idle.touch();
    return { res, idle };
  } catch (err) {
    idle.stop();
    throw networkError(err, opts, idle);
  }
}

/** Classifies a failure while sending or reading. */
export function networkError(err: unknown, opts: Pick<RequestOptions, 'signal'>, idle: Pick<Idle, 'fired' | 'ms' | 'waitingForHeaders'>): Error {
  if (opts.signal?.aborted) return new CanceledError();
  if (idle.fired) {
    return new RetryableUpstreamError(`upstream timed out: nothing received for ${formatSeconds(idle.ms)}${idle.waitingForHeaders ? ' (no answer had started)' : ''}`);
  }
  const cause = (err as { cause?: { code?: string } }).cause;
  return new RetryableUpstreamError(`upstream connection failed${cause?.code ? ` (${cause.code})` : ''}`);
}

const formatSeconds = (ms: number) => `${Math.round((ms / 1000) * 10) / 10} s`;

/** Throws the error a non-2xx status means; the upstream's message and body travel with it. */
export function checkStatus(res: Response, body: Buffer): void {
  if (res.ok) return;
  const text = body.toString('utf8');
  if (RETRYABLE_STATUSES.has(res.status)) {
    throw new RetryableUpstreamError(`upstream answered ${res.status}: ${upstreamMessage(text)}`, res.status, parseRetryAfter(res.headers.get('retry-after')));
  }
  throw new PermanentUpstreamError(upstreamMessage(text), res.status, undefined, { body, contentType: res.headers.get('content-type') ?? 'application/json' });
}

/**
 * The body as it arrives, piece by piece; each piece restarts the watchdog, which stops at the end.
 * A failure half-way is classified as a network error (or a cancel).
 */
export async function* bodyChunks(res: Response, opts: Pick<RequestOptions, 'signal'>, idle: Idle): AsyncGenerator<Uint8Array> {
  try {
    if (!res.body) return;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      idle.touch();
      yield chunk;
    }
  } catch (err) {
    throw networkError(err, opts, idle);
  } finally {
    idle.stop();
  }
}

/** Reads the whole body; the watchdog allows any length as long as bytes keep coming. */
export async function readBody(res: Response, opts: Pick<RequestOptions, 'signal'>, idle: Idle): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of bodyChunks(res, opts, idle)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/**
 * JSON text with integer literals of 16 digits or more turned into strings, so ids past 2^53 keep
 * every digit (JSON.parse would round them). Strings in the text are left as they are.
 */
export function quoteBigIntegers(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // Copy the whole string literal, escapes included.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      const num = m?.[0] ?? c;
      out += /^-?\d{16,}$/.test(num) ? `"${num}"` : num;
      i += num.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * One upstream call whose answer is JSON: the parsed body, or a classified error. With
 * `keepBigIntegers`, long integer literals arrive as strings (see quoteBigIntegers).
 */
export async function requestJson(url: string, opts: RequestOptions & { keepBigIntegers?: boolean }): Promise<unknown> {
  const { res, idle } = await send(url, opts);
  const body = await readBody(res, opts, idle);
  checkStatus(res, body);
  const text = body.toString('utf8');
  try {
    return JSON.parse(opts.keepBigIntegers ? quoteBigIntegers(text) : text) as unknown;
  } catch {
    throw new PermanentUpstreamError(`malformed upstream response (HTTP ${res.status}, not JSON)`, res.status);
  }
}
