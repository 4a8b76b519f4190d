import { sunoFamily } from '../../../shared/families/suno/family.js';
import type { ErrorReply } from '../../errors.js';
import { defineApiFamily } from '../types.js';
import { sunoRoutes } from './routes.js';

/**
 * The `code` of suno-api's error envelope for an error: `invalid_request` for bad input (suno-api's
 * own code, HTTP 400), `task_not_exist` for an unknown or foreign task (new-api's code; answered
 * with 404 as one-hub does, never revealing another tenant's task), else the error's type
 * (`rate_limit_exceeded`, `queue_full`, `authentication_error`, `service_unavailable`,
 * `internal_error`).
 */
function sunoCodeOf(e: ErrorReply): string {
  if (e.status === 404) return 'task_not_exist';
  if (e.status === 400 || e.status === 409 || e.status === 413) return 'invalid_request';
  return e.type;
}

/** The Suno routes under `/suno`, with suno-api's `{code, message, data: null}` error envelope. */
export default defineApiFamily({
  name: sunoFamily.name,
  routes: (deps) => sunoRoutes(deps),
  errorBody: (e) => ({ code: sunoCodeOf(e), message: e.message, data: null }),
  claims: (url) => url === '/suno' || url.startsWith('/suno/') || url.startsWith('/suno?'),
});
