import type { UpstreamErrorInfo } from '../../shared/errors.js';

/**
 * Reading what an upstream says went wrong, from the error bodies providers and relays really
 * send (with a 2xx, in a stream event, or with an error status). Pure readers: whether the error
 * is worth retrying is decided in http.ts (statuses) and faults.ts (2xx bodies).
 */

/**
 * What an upstream said went wrong. `status` is the HTTP status the error stands for, when the
 * body says so; `type`, `code` and `param` are the upstream's own fields (OpenAI envelope).
 */
export interface UpstreamFault {
  message: string;
  type: string | null;
  code: string | null;
  param: string | null;
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
  const status = httpStatus(e.code) ?? httpStatus(e.http_code) ?? httpStatus(e.status) ?? httpStatus(e.status_code) ?? httpStatus(outer.http_status);
  return { message: message ?? `upstream reported ${type ?? code}`, type, code, param: str(e.param), status };
}

/**
 * The error an answer carries, from the shapes relays and providers really send:
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
  if (typeof e === 'string' && e.trim() !== '') return { message: e, type: null, code: null, param: null, status: httpStatus(body.status) ?? httpStatus(body.code) };
  if (e === true) return { message: str(body.message) ?? str(body.msg) ?? 'upstream reported an error', type: null, code: str(body.code), param: null, status: httpStatus(body.status) };
  if (body.object === 'error') return fromErrorObject(body, body);
  const base = body.base_resp;
  if (isObject(base) && typeof base.status_code === 'number' && base.status_code !== 0) {
    const code = base.status_code;
    return { message: str(base.status_msg) ?? `upstream status code ${code}`, type: null, code: String(code), param: null, status: MINIMAX_STATUS[code] ?? null };
  }
  if (body.success === false) return { message: str(body.message) ?? str(body.msg) ?? 'upstream reported success: false', type: null, code: str(body.code), param: null, status: null };
  return null;
}

/**
 * For a body that is neither the expected answer nor a known error shape: whatever message and
 * status it names (`message`, `msg`, `detail`, `response`; `status`, `status_code`, `code`), as in
 * `{"response":"Token is invalid [2]","status":400}`, FastAPI's `{"detail":"Not Found"}` or
 * Luma-API's `{"detail":{"reason":"unauthorized secret token","code":1}}`.
 */
export function looseFault(body: unknown): UpstreamFault | null {
  if (!isObject(body)) return null;
  const detail = isObject(body.detail) ? (str(body.detail.reason) ?? str(body.detail.message)) : str(body.detail);
  const message = str(body.message) ?? str(body.msg) ?? detail ?? str(body.response) ?? str(body.error_msg);
  if (!message) return null;
  const status = httpStatus(body.status) ?? httpStatus(body.status_code) ?? httpStatus(body.code) ?? httpStatus(body.error_code);
  return { message, type: null, code: str(body.code) ?? str(body.error_code), param: null, status };
}

/**
 * MiniMax `base_resp.status_code` values as HTTP statuses: 1000 unknown error, 1001 timeout and
 * 1013 internal error (retry), 1002 and 1039 rate or token limit, 1004 authorization, 1008
 * insufficient balance, 1026/1027 sensitive content, 2013 invalid parameters.
 */
const MINIMAX_STATUS: Record<number, number> = { 1000: 502, 1001: 504, 1002: 429, 1004: 401, 1008: 402, 1013: 502, 1026: 400, 1027: 400, 1039: 429, 2013: 400 };

/** The upstream's own `type`, `code` and `param` of a fault; undefined when it named neither a type nor a code. */
export function errorInfoOf(f: UpstreamFault | null): UpstreamErrorInfo | undefined {
  return f && (f.type !== null || f.code !== null) ? { type: f.type, code: f.code, param: f.param } : undefined;
}

/**
 * The wait (ms) an error body asks for, where the upstream puts it in the body instead of a
 * `Retry-After` header: Google's `google.rpc.RetryInfo` detail (`"retryDelay": "38.601s"`, a
 * protobuf duration), which Gemini sends with its 429s, also through its OpenAI-compatible
 * endpoint (`{"error":{…,"details":[…]}}`, or that wrapped in an array).
 */
export function retryDelayIn(body: unknown): number | undefined {
  const outer = Array.isArray(body) ? body[0] : body;
  const error = isObject(outer) ? outer.error : null;
  const details = isObject(error) && Array.isArray(error.details) ? error.details : [];
  for (const d of details) {
    if (!isObject(d) || typeof d['@type'] !== 'string' || !d['@type'].endsWith('google.rpc.RetryInfo')) continue;
    const m = typeof d.retryDelay === 'string' ? /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(d.retryDelay) : null;
    if (m) return Math.round(Number(m[1]) * 1000);
  }
  return undefined;
}

/** Whether a text looks like an HTML page (by content type or by its first tag). */
export const isHtml = (contentType: string, text: string) => /^text\/html\b/i.test(contentType) || /^\s*<(!doctype|html|head|body|\?xml|title)\b/i.test(text);

/** The `<title>` of an HTML page (Cloudflare's "example.com | 524: A timeout occurred"), if it has one. */
export const htmlTitle = (text: string) => /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1]?.replace(/\s+/g, ' ').trim() || undefined;
