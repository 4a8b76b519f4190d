import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { RETRYABLE_STATUSES } from './http.js';

/**
 * What an upstream said went wrong inside an answer it sent as a success (HTTP 2xx body, or an
 * event of a stream). `status` is the HTTP status the error stands for, when the body says so.
 */
export interface UpstreamFault {
  message: string;
  type: string | null;
  code: string | null;
  status: number | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null);

/** A number that reads as an HTTP error status (a number, or a numeric string as in `"http_code":"400"`). */
function httpStatus(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{3}$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 400 && n <= 599 ? n : null;
}

function fromErrorObject(e: Json, outer: Json): UpstreamFault | null {
  const message = str(e.message) ?? str(e.msg) ?? str(e.error) ?? str(e.detail) ?? str(outer.message);
  const type = str(e.type) ?? (typeof e.status === 'string' ? str(e.status) : null);
  const code = str(e.code);
  if (!message && !type && !code) return null;
  const status = httpStatus(e.code) ?? httpStatus(e.http_code) ?? httpStatus(e.status) ?? httpStatus(e.status_code);
  return { message: message ?? `upstream reported ${type ?? code}`, type, code, status };
}

/**
 * The error an answer carries, from the shapes relays and providers really send with HTTP 200:
 * - `{"error":{"message","type","param","code"}}` (OpenAI; relays such as new-api and one-api
 *   pass it on; OpenRouter puts the HTTP status in a numeric `code`);
 * - `{"error":"text"}` (Ollama, new-api's string form) and `{"error":true,"message":…}`;
 * - `{"type":"error","error":{"type":"overloaded_error",…}}` (Anthropic-style, also as events);
 * - `{"object":"error","message","type","code"}` (vLLM, SGLang);
 * - `[{"error":{…}}]` (Gemini's OpenAI-compatible endpoint wraps errors in an array);
 * - `{"base_resp":{"status_code":1002,"status_msg":…}}` with a non-zero code (MiniMax);
 * - `{"success":false,"message":…}` (a relay's management API answering a misrouted call).
 * null when the body reports no error.
 */
export function faultIn(body: unknown): UpstreamFault | null {
  if (Array.isArray(body)) return body.length > 0 && isObject(body[0]) && 'error' in body[0] ? faultIn(body[0]) : null;
  if (!isObject(body)) return null;
  const e = body.error;
  if (isObject(e)) {
    const f = fromErrorObject(e, body);
    if (f) return f;
  }
  if (typeof e === 'string' && e.trim() !== '') return { message: e, type: null, code: null, status: httpStatus(body.status) ?? httpStatus(body.code) };
  if (e === true) return { message: str(body.message) ?? str(body.msg) ?? 'upstream reported an error', type: null, code: str(body.code), status: httpStatus(body.status) };
  if (body.object === 'error') return fromErrorObject(body, body);
  const base = body.base_resp;
  if (isObject(base) && typeof base.status_code === 'number' && base.status_code !== 0) {
    const code = base.status_code;
    return { message: str(base.status_msg) ?? `upstream status code ${code}`, type: null, code: String(code), status: MINIMAX_STATUS[code] ?? null };
  }
  if (body.success === false) return { message: str(body.message) ?? str(body.msg) ?? 'upstream reported success: false', type: null, code: str(body.code), status: null };
  return null;
}

/**
 * For a body that is neither the expected answer nor a known error shape: whatever message and
 * status it names (`message`, `msg`, `detail`, `response`; `status`, `status_code`, `code`), as in
 * `{"response":"Token is invalid [2]","status":400}` or FastAPI's `{"detail":"Not Found"}`.
 */
export function looseFault(body: unknown): UpstreamFault | null {
  if (!isObject(body)) return null;
  const message = str(body.message) ?? str(body.msg) ?? str(body.detail) ?? str(body.response) ?? str(body.error_msg);
  if (!message) return null;
  const status = httpStatus(body.status) ?? httpStatus(body.status_code) ?? httpStatus(body.code) ?? httpStatus(body.error_code);
  return { message, type: null, code: str(body.code) ?? str(body.error_code), status };
}

/**
 * MiniMax `base_resp.status_code` values as HTTP statuses: 1000 unknown error, 1001 timeout and
 * 1013 internal error (retry), 1002 and 1039 rate or token limit, 1004 authorization, 1008
 * insufficient balance, 1026/1027 sensitive content, 2013 invalid parameters.
 */
const MINIMAX_STATUS: Record<number, number> = { 1000: 502, 1001: 504, 1002: 429, 1004: 401, 1008: 402, 1013: 502, 1026: 400, 1027: 400, 1039: 429, 2013: 400 };

/**
 * The HTTP status an error `type` or `code` stands for. The one table that decides what a 2xx
 * error means: overloaded/unavailable 503, server errors 502, timeouts 504, rate limits 429 (these
 * four are retried), the caller's mistakes 400/401/403/404 (permanent). Keys are lower case with
 * anything but letters and digits removed, so `InternalServerError`, `internal_server_error` and
 * Gemini's `INTERNAL` meet.
 */
const STATUS_OF: Record<string, number> = {
  overloadederror: 503,
  overloaded: 503,
  serviceunavailable: 503,
  serviceunavailableerror: 503,
  unavailable: 503,
  servererror: 502,
  apierror: 502,
  internalerror: 502,
  internalservererror: 502,
  internal: 502,
  upstreamerror: 502,
  badgateway: 502,
  timeout: 504,
  timeouterror: 504,
  requesttimeout: 504,
  deadlineexceeded: 504,
  ratelimiterror: 429,
  ratelimitexceeded: 429,
  ratelimited: 429,
  toomanyrequests: 429,
  requests: 429,
  tokens: 429,
  resourceexhausted: 429,
  insufficientquota: 429,
  invalidrequesterror: 400,
  badrequesterror: 400,
  badrequest: 400,
  invalidargument: 400,
  invalidvalue: 400,
  contextlengthexceeded: 400,
  contentpolicyviolation: 400,
  authenticationerror: 401,
  invalidapikey: 401,
  unauthenticated: 401,
  permissionerror: 403,
  permissiondenied: 403,
  notfounderror: 404,
  notfound: 404,
  modelnotfound: 404,
};

/** Kinds that come with a retryable status but will not get better by retrying (quota exhausted). */
const NEVER_RETRY = new Set(['insufficientquota', 'billinghardlimitreached']);

const key = (s: string | null) => (s ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The error a fault means: retryable for overloaded, server, timeout and rate-limit faults,
 * permanent otherwise (an error of a kind nobody knows included); either way carrying the
 * upstream's message and the HTTP status the fault stands for (502 when it names none). No upstream answer is attached: the upstream's own answer
 * was a 200 and must never be replayed as an error.
 */
export function faultError(f: UpstreamFault): RetryableUpstreamError | PermanentUpstreamError {
  const kinds = [key(f.code), key(f.type)].filter(Boolean);
  const known = f.status ?? kinds.map((k) => STATUS_OF[k]).find((s) => s !== undefined);
  const retryable = known !== undefined && RETRYABLE_STATUSES.has(known) && !kinds.some((k) => NEVER_RETRY.has(k));
  return retryable ? new RetryableUpstreamError(f.message, known) : new PermanentUpstreamError(f.message, known ?? 502);
}
