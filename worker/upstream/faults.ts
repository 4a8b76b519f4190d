import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { errorInfoOf, type UpstreamFault } from './error-body.js';
import { isQuotaExhausted, isRetryableStatus } from './http.js';

export { faultIn, looseFault, type UpstreamFault } from './error-body.js';

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

const key = (s: string | null) => (s ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The error a fault means: retryable for overloaded, server, timeout and rate-limit faults (any
 * status isRetryableStatus accepts, but a spent quota), permanent otherwise (an error of a kind nobody knows
 * included); either way carrying the upstream's message, its own `type`/`code`/`param`, and the
 * HTTP status the fault stands for (502 when it names none). No upstream answer is attached: the
 * upstream's own answer was a 200 and must never be replayed as an error.
 */
export function faultError(f: UpstreamFault): RetryableUpstreamError | PermanentUpstreamError {
  const kinds = [key(f.code), key(f.type)].filter(Boolean);
  const known = f.status ?? kinds.map((k) => STATUS_OF[k]).find((s) => s !== undefined);
  const info = errorInfoOf(f);
  const retryable = known !== undefined && isRetryableStatus(known) && !isQuotaExhausted(info);
  return retryable ? new RetryableUpstreamError(f.message, known, undefined, info) : new PermanentUpstreamError(f.message, known ?? 502, undefined, undefined, info);
}
