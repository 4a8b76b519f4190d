import { Agent, fetch, type Response } from 'undici';
import { CanceledError, PermanentUpstreamError, RetryableUpstreamError, type UpstreamErrorInfo } from '../../shared/errors.js';
import { errorInfoOf, faultIn, htmlTitle, isHtml, looseFault, retryDelayIn } from './error-body.js';

/**
 * The connection pool of every upstream call. undici's own header and body timeouts (300 s each
 * in Node's built-in fetch) are off: relayq's idle watchdog below decides, so a long generation
 * or a slow stream is cut only by relayq's own settings.
 */
const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, connectTimeout: 10_000 });

/** 4xx statuses worth retrying: 408 Request Timeout, 409 Conflict, 425 Too Early, 429 Too Many Requests. */
const RETRYABLE_4XX: ReadonlySet<number> = new Set([408, 409, 425, 429]);

/**
 * The 5xx statuses never retried: they say the request itself can never work there. 501 Not
 * Implemented (the server does not do this method or endpoint), 505 HTTP Version Not Supported,
 * 510 Not Extended (the server wants an extension the request lacks). 511 Network
 * Authentication Required comes from a captive portal or proxy in front of the upstream that
 * wants a login: no retry gets through until someone logs in, so it is not retried either, but it
 * is the channel's trouble, not the request's (worker/channels/run.ts moves the call to another
 * channel and counts it against this one).
 */
export const PERMANENT_5XX: ReadonlySet<number> = new Set([501, 505, 510, 511]);

/**
 * Whether an HTTP status is worth another try: 408, 409, 425, 429, and every 5xx but
 * PERMANENT_5XX — the non-standard ones too, which say the upstream (or what stands in front of
 * it) is in trouble for now: Cloudflare's 520–527 and 530 (origin unreachable, timed out, sent
 * nothing), Anthropic's 529 overloaded, nginx's and others' 598/599 read timeouts. Every other
 * 4xx is permanent.
 */
export function isRetryableStatus(status: number): boolean {
  if (status >= 500 && status <= 599) return !PERMANENT_5XX.has(status);
  return RETRYABLE_4XX.has(status);
}

const kindKey = (s: string | null | undefined) => (s ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * Whether an upstream's error says the channel's money or quota is spent
 * (`insufficient_quota`, `billing_hard_limit_reached`): it comes as a 429 (or a 200 error body)
 * but no retry gets through until someone pays; another channel may serve.
 */
export function isQuotaExhausted(info: UpstreamErrorInfo | undefined): boolean {
  return [info?.code, info?.type].some((k) => QUOTA_EXHAUSTED.has(kindKey(k)));
}
const QUOTA_EXHAUSTED = new Set(['insufficientquota', 'billinghardlimitreached']);

/**
 * Whether a refusal says the channel does not serve the model asked for: a 404 with the code
 * `model_not_found` (OpenAI, new-api), or, from upstreams that send no code, a message saying the
 * model "does not exist" or was "not found". The channel's model list is then wrong; another
 * channel that lists the model may serve it.
 */
export function isModelNotFound(status: number | undefined, message: string, info: UpstreamErrorInfo | undefined): boolean {
  if (status !== 404) return false;
  if (info?.code) return kindKey(info.code) === 'modelnotfound';
  return /\bmodel\b[^.]*\b(does not exist|not found)\b/i.test(message);
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait (ms) an error answer asks for: `retry-after-ms` (OpenAI, Azure OpenAI; what the openai
 * SDKs read first), else `Retry-After` (seconds or an HTTP date), else a wait named in the body
 * (Gemini's RetryInfo, see retryDelayIn). Undefined when none is given.
 */
export function retryAfterOf(headers: Headers, body: unknown, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after'), now) ?? retryDelayIn(body);
}

/**
 * What an upstream said with a refusal: its message from the common JSON error shapes (an HTML
 * page, such as Cloudflare's 52x pages, by its title), its own `type`/`code`/`param`, and the body
 * as parsed (undefined when it is not JSON).
 */
function refusalOf(body: string, contentType: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    if (isHtml(contentType, body)) return { message: `an HTML page${htmlTitle(body) ? ` ("${htmlTitle(body)}")` : ''}`, info: undefined, parsed: undefined };
    return { message: body.slice(0, 300).trim() || 'no body', info: undefined, parsed: undefined };
  }
  const j = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { description?: unknown; error?: { message?: unknown } | string; message?: unknown };
  const fault = faultIn(parsed) ?? looseFault(parsed);
  const message =
    typeof j.description === 'string' ? j.description : typeof j.error === 'string' ? j.error : typeof j.error?.message === 'string' ? j.error.message : (fault?.message ?? body.slice(0, 300));
  return { message, info: errorInfoOf(fault), parsed };
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
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

/**
 * Throws the error a non-2xx status means (isRetryableStatus decides which; a spent quota is
 * never retried, whatever its status); the upstream's message, its own error
 * `type`/`code`/`param`, the wait it asks for (retryAfterOf) and (for a refusal, to relay
 * unchanged) its body travel with it.
 */
export function checkStatus(res: Response, body: Buffer): void {
  if (res.ok) return;
  const contentType = res.headers.get('content-type') ?? '';
  const { message, info, parsed } = refusalOf(body.toString('utf8'), contentType);
  if (isRetryableStatus(res.status) && !isQuotaExhausted(info)) {
    throw new RetryableUpstreamError(`upstream answered ${res.status}: ${message}`, res.status, retryAfterOf(res.headers, parsed), info);
  }
  throw new PermanentUpstreamError(message, res.status, undefined, { body, contentType: contentType || 'application/json' }, info);
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
