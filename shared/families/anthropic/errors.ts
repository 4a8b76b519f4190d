/**
 * Anthropic's error vocabulary: the `error.type` values of its envelope
 * `{"type":"error","error":{"type","message"},"request_id"}` and the HTTP status each comes with
 * (`ErrorType` in @anthropic-ai/sdk's resources/shared.ts, which lacks `request_too_large`, the type
 * of Anthropic's 413s). The SDKs pick their error class by the status (`OverloadedError` for 529,
 * `GatewayTimeoutError` for 504, …), so the status matters more than the type.
 */
export const ERROR_STATUS: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * The Anthropic error type for a reply: `type` itself when it is one of Anthropic's, otherwise
 * the one its HTTP status stands for (other 4xx: `invalid_request_error`, other 5xx: `api_error`).
 */
export function anthropicErrorType(type: string | null | undefined, status: number): string {
  if (type && ERROR_STATUS[type] !== undefined) return type;
  const byStatus = Object.entries(ERROR_STATUS).find(([, s]) => s === status)?.[0];
  if (byStatus) return byStatus;
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** The envelope of an error (`request_id` when the error concerns a task: its id). */
export function anthropicError(type: string, message: string, requestId?: string): { type: 'error'; error: { type: string; message: string }; request_id?: string } {
  return { type: 'error', error: { type, message }, ...(requestId ? { request_id: requestId } : {}) };
}
