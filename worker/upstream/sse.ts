export { createSseParser, looksLikeSse, parseSse, sseEvents, type SseEvent, type SseParser } from '../../shared/sse.js';

/**
 * How long (ms) an upstream may stay silent once its answer is whole (a stop reason, every choice
 * finished) before the relay ends the stream itself: some relays send the stop reason, then keep
 * the connection open without the end marker (`message_stop`, `[DONE]`) until their own timeout.
 */
export const QUIET_AFTER_END_MS = 2000;

/**
 * The items of `events` until the end, or until the answer is whole (`whole()`, asked before each
 * wait) and nothing more came for `graceMs` (ms): then `stop()` is called (it must abort the
 * upstream request, whose pending read is dropped) and the items end as if the stream had.
 */
export async function* endWhenQuiet<T>(events: AsyncIterable<T>, whole: () => boolean, stop: () => void, graceMs = QUIET_AFTER_END_MS): AsyncGenerator<T> {
  const it = events[Symbol.asyncIterator]();
  let open = true;
  try {
    for (;;) {
      const next = it.next();
      let got: IteratorResult<T> | 'quiet';
      if (whole()) {
        let timer: NodeJS.Timeout | undefined;
        const quiet = new Promise<'quiet'>((resolve) => {
          timer = setTimeout(() => resolve('quiet'), graceMs);
        });
        try {
          got = await Promise.race([next, quiet]);
        } finally {
          clearTimeout(timer);
        }
        if (got === 'quiet') {
          // The read still waiting fails once the request is aborted: nobody needs it.
          next.catch(() => undefined);
          open = false;
          stop();
          return;
        }
      } else got = await next;
      if (got.done) {
        open = false;
        return;
      }
      yield got.value;
    }
  } finally {
    // The consumer stopped early (or a read failed): release the source as a for-await would.
    if (open) await it.return?.();
  }
}
