/**
 * Errors that say what to do next. The worker's dispatcher decides retries from the class,
 * the API's error handler decides the HTTP status from it; nobody matches message text.
 */

/** Bad input from a client; `field` names what to fix. */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** An input over a size limit; `field` names it. */
export class TooLargeError extends ValidationError {
  override name = 'TooLargeError';
}

/** The key is valid but may not do this (an admin route without an admin key). */
export class ForbiddenError extends Error {
  override name = 'ForbiddenError';
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The request is valid but conflicts with the current state (e.g. action on an unfinished task). */
export class ConflictError extends Error {
  override name = 'ConflictError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Redis could not be reached or refused the write; nothing was stored. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(cause: unknown) {
    super('task store unavailable', { cause });
  }
}

/** This API node is shutting down and takes no new request; another node (or a retry) will. */
export class ShuttingDownError extends Error {
  override name = 'ShuttingDownError';
  constructor() {
    super('this relayq node is shutting down; retry the request');
  }
}

/** The queue holds more than MAX_QUEUE_DEPTH waiting jobs. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(
    readonly queue: string,
    readonly depth: number,
  ) {
    super(`queue ${queue} is full (${depth} waiting); retry later`);
  }
}

export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(readonly retryAfterSeconds: number) {
    super(`rate limit exceeded; retry after ${retryAfterSeconds} s`);
  }
}

export class BannedPromptError extends Error {
  override name = 'BannedPromptError';
  constructor(readonly bannedWord: string) {
    super(`prompt contains a banned word: ${bannedWord}`);
  }
}

/**
 * The upstream's own description of an error, as its OpenAI-style envelope named it
 * (`{"error":{"type","code","param"}}`): clients branch on `code` (`context_length_exceeded`,
 * `insufficient_quota`, `rate_limit_exceeded`), so it travels to them unchanged.
 */
export interface UpstreamErrorInfo {
  type: string | null;
  code: string | null;
  param: string | null;
}

/** Worth another try later: 408/409/425/429, 5xx but 501/505/510/511, timeouts, resets. */
export class RetryableUpstreamError extends Error {
  override name = 'RetryableUpstreamError';
  constructor(
    message: string,
    /** The HTTP status the failure stands for. */
    readonly status?: number,
    /** The upstream's `Retry-After`, ms. */
    readonly retryAfterMs?: number,
    readonly upstreamError?: UpstreamErrorInfo,
  ) {
    super(message);
  }
}

/** The upstream refused for good (other 4xx, malformed success bodies, refusal codes). */
export class PermanentUpstreamError extends Error {
  override name = 'PermanentUpstreamError';
  constructor(
    message: string,
    /** The HTTP status the failure stands for. */
    readonly status?: number,
    /** A protocol's own refusal code (the MJ `code` of a submit answer). */
    readonly code?: string | number,
    /** The upstream's own answer, to relay to the client unchanged. */
    readonly response?: { body: Buffer; contentType: string },
    readonly upstreamError?: UpstreamErrorInfo,
  ) {
    super(message);
  }
}

/**
 * The upstream refused because of the channel's own account, not the request (an MJ proxy with
 * no available or a banned account): another channel may well serve the same request, and the
 * refusal counts as a failure of this channel. Final when no other channel can serve.
 */
export class ChannelRefusedError extends PermanentUpstreamError {
  override name = 'ChannelRefusedError';
}

/**
 * The upstream failed after part of its answer reached the client (a stream cut mid-way): final,
 * since half an answer cannot be taken back, but a failure of the channel all the same.
 */
export class CutShortError extends PermanentUpstreamError {
  override name = 'CutShortError';
}

/**
 * No channel that could take the call can take it now, and the job waits `waitMs` (ms) before
 * routing again, without holding a worker slot and without using an attempt. When the channels
 * are at their concurrency or rpm limits, cooling down after a 429 (`rateLimited`), being probed,
 * or running their one half-open trial call, the wait ends on its own. When they are `failing`
 * (their circuits are open after failures), it may not: those waits add up, and past
 * CHANNEL_WAIT_SECONDS in all the task fails with this error. `reason` names the channels and why
 * ("no healthy channel: a is open until <ISO time> (last error: …)").
 */
export class ChannelBusyError extends Error {
  override name = 'ChannelBusyError';
  constructor(
    readonly waitMs: number,
    readonly reason: string,
    /** The wait is a 429 cool-down (the upstream's Retry-After), not limits or a failing channel. */
    readonly rateLimited = false,
    /** Every channel that could serve is failing (open): the wait counts toward CHANNEL_WAIT_SECONDS. */
    readonly failing = false,
  ) {
    super(failing ? reason : `no channel can take the call now (${reason}); waiting ${waitMs} ms`);
  }
}

/** The client canceled the task while a worker held it; nothing to retry. */
export class CanceledError extends Error {
  override name = 'CanceledError';
  constructor() {
    super('canceled by client');
  }
}

/** Runs a Redis call; any failure means nothing can be promised, so callers answer 503. */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StoreUnavailableError(err);
  }
}
