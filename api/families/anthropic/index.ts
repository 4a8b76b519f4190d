import { anthropicFamily } from '../../../shared/families/anthropic/family.js';
import { anthropicError, anthropicErrorType } from '../../../shared/families/anthropic/errors.js';
import { defineApiFamily } from '../types.js';
import { anthropicRoutes } from './routes.js';

/**
 * `POST /v1/messages` with Anthropic's error envelope (`{"type":"error","error":{type,message}}`),
 * its error types chosen by status as the Anthropic SDKs read them: 400 invalid_request_error,
 * 401 authentication_error, 403 permission_error, 404 not_found_error, 409 conflict_error, 413 request_too_large,
 * 429 rate_limit_error, 5xx api_error (relayq's own errors are typed by their status alone).
 */
export default defineApiFamily({
  name: anthropicFamily.name,
  routes: (deps) => anthropicRoutes(deps),
  errorBody: (e) => anthropicError(anthropicErrorType(null, e.status), e.message),
  // Unknown paths under /v1/messages (`/v1/messages/count_tokens`, `/v1/messages/batches`) too.
  claims: (url) => /^\/v1\/messages(?:[/?]|$)/.test(url),
  // The Anthropic SDKs read it as the answer's `_request_id` (the task id here).
  exposedHeaders: ['request-id'],
});
