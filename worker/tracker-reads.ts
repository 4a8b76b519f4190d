import type { Channel } from '../shared/channels/config.js';
import { PermanentUpstreamError } from '../shared/errors.js';

/**
 * A read of one upstream task that failed, reported alone so that the other tasks of the same
 * read go on (a tracker adapter puts it in its result map under that task's id, or throws it for a
 * read of one task). `permanent`: the upstream answered about this task with an error that asking
 * again will not clear (a refusal of the id, a failure wrapped in a 200); the tracker fails the
 * task after READ_FAILURE_LIMIT such reads in a row, with this message.
 */
export class TaskReadFailed extends Error {
  override name = 'TaskReadFailed';
  constructor(
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /**
   * What a failed read of one task means for it: permanent for a 4xx refusal that is not about
   * the channel's own key or credit (401, 402, 407 and 429 say nothing about the task), passing
   * for anything else (timeouts, resets, 5xx, malformed answers).
   */
  static of(err: unknown): TaskReadFailed {
    if (err instanceof TaskReadFailed) return err;
    const message = err instanceof Error ? err.message : String(err);
    const status = err instanceof PermanentUpstreamError ? err.status : undefined;
    const permanent = status !== undefined && status >= 400 && status < 500 && ![401, 402, 407, 429].includes(status);
    return new TaskReadFailed(message, permanent, { cause: err });
  }
}

/** Reads in a row answered with a permanent error about one task after which the task fails. */
export const READ_FAILURE_LIMIT = 3;

/**
 * Runs one read of a channel within `timeoutMs` (wall clock): the read gets an AbortSignal that
 * fires then, and the result is a rejection at that moment even if the read ignores the signal,
 * so one upstream that never answers cannot hold the tracker's tick.
 * @throws the read's own error, or an Error saying the read took too long.
 */
export async function boundedRead<T>(channel: Channel, timeoutMs: number, read: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`reading channel ${channel.name} took longer than ${Math.round(timeoutMs / 1000)} s`);
      ac.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([read(ac.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
