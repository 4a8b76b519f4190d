import type { Channel } from '../shared/channels/config.js';
import type { ChannelState } from '../shared/channels/state.js';
import { PermanentUpstreamError, RetryableUpstreamError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { blameOf, DEFAULT_COOLDOWN_MS, MIN_COOLDOWN_MS } from './channels/run.js';

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
      // A timeout, as the call path's: the channel's failure, not the task's.
      const err = new RetryableUpstreamError(`reading channel ${channel.name} took longer than ${Math.round(timeoutMs / 1000)} s`);
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

/**
 * What a failed read says about its channel, as the call path judges a failed call (blameOf):
 * `unwell` (5xx, timeout, reset, refused connection, a refusal of the channel's key or credit),
 * `rate-limited` (a 429), or `task` — nothing about the channel: a permanent error about one task
 * (TaskReadFailed.permanent, e.g. a 400 or 403 for that id), a refusal of the request, a canceled
 * read, or a TaskReadFailed that carries no upstream error.
 */
export function readBlame(err: unknown): 'unwell' | 'rate-limited' | 'task' {
  if (err instanceof TaskReadFailed) return err.permanent || err.cause === undefined ? 'task' : readBlame(err.cause);
  const blame = blameOf(err);
  return blame === 'unwell' || blame === 'cut' ? 'unwell' : blame === 'rate-limited' ? 'rate-limited' : 'task';
}

/**
 * The reads of one channel in one tracker tick, tallied so that the channel's health gets one
 * update per tick (not one per task or per read): `answered` counts tasks the upstream answered
 * with their state, `failed` reads that failed for the channel (readBlame `unwell`), `limited`
 * the longest 429 wait asked for (ms), or null.
 */
export class ReadTally {
  answered = 0;
  failed = 0;
  limited: number | null = null;
  private last: { message: string; status: number | null } | null = null;
  private limitedMessage = '';

  /** A read that answered about this many tasks (ids it did not report, e.g. a 404 for one id, say nothing). */
  answer(tasks: number): void {
    this.answered += tasks;
  }

  /** A failed read (of a batch, or of one task); only failures that concern the channel count. */
  failure(err: unknown): void {
    const blame = readBlame(err);
    if (blame === 'task') return;
    const cause = err instanceof TaskReadFailed && err.cause !== undefined ? err.cause : err;
    const message = err instanceof Error ? err.message : String(err);
    if (blame === 'rate-limited') {
      const ms = Math.max((cause as RetryableUpstreamError).retryAfterMs ?? DEFAULT_COOLDOWN_MS, MIN_COOLDOWN_MS);
      if (this.limited === null || ms > this.limited) [this.limited, this.limitedMessage] = [ms, message];
      return;
    }
    this.failed++;
    this.last = { message, status: (cause as { status?: number }).status ?? null };
  }

  /**
   * Reports the tick's reads to the channel's health in one step (two after a 429; none when no
   * read said anything about the channel): a 429 cools the channel down as a call's would; the
   * tick counts as one failed read when at least as many reads failed for the channel as tasks
   * were answered, else as one good read when any was (ChannelState.read: how reads bear on the
   * circuit). Resolves with whether this report opened the circuit.
   */
  async report(state: Pick<ChannelState, 'read' | 'limited'>, channel: Channel, log: Logger): Promise<boolean> {
    try {
      if (this.limited !== null) await state.limited(channel, this.limitedMessage, this.limited);
      if (this.failed > 0 && this.failed >= this.answered) {
        const opened = await state.read(channel, false, `progress read failed: ${this.last!.message}`, this.last!.status);
        if (opened) log.warn({ channel: channel.name, status: this.last!.status }, 'channel opened after its progress reads failed; only probes reach it until one succeeds');
        return opened;
      }
      if (this.answered > 0) await state.read(channel, true);
    } catch (err) {
      log.warn({ channel: channel.name, err }, 'reporting progress reads to channel health failed');
    }
    return false;
  }
}
