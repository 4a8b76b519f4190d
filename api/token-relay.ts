import type { FastifyReply, FastifyRequest } from 'fastify';
import { createTokenStreams } from '../shared/protocols/tokens.js';
import { isTerminal, type Task } from '../shared/tasks/model.js';
import { follow } from './follow.js';
import { closedSignal, openEventStream, type SseDeps } from './sse.js';

/**
 * How a relayed token stream ended:
 * - `done`: complete (the end marker came, or the task succeeded) after every entry was written;
 * - `waited`: no first entry within the wait (nothing was written);
 * - `finished`: the task ended otherwise (failed or canceled, or succeeded without a single
 *   entry); `started` says whether entries went out;
 * - `left`: the client went away; `shutdown`: this API node's grace period is over (or a day passed).
 */
export type RelayEnd =
  | { kind: 'done' }
  | { kind: 'waited' }
  | { kind: 'finished'; task: Task; started: boolean }
  | { kind: 'left'; started: boolean }
  | { kind: 'shutdown'; started: boolean };

/** Entries read from the token stream at once. */
const BATCH = 500;

/**
 * A started stream that has been silent this long (ms) gets an SSE comment line (`: keep-alive`),
 * which every SSE parser skips (the openai and anthropic SDKs included): a proxy or load balancer
 * with an idle timeout (often 60 s) must not cut a stream whose upstream is thinking.
 */
export const KEEP_ALIVE_MS = 15_000;

/**
 * Relays a streaming task's token stream (shared/protocols/tokens.ts) to one client, whatever the
 * family: the worker appends each upstream chunk as it comes; this writes every entry with
 * `write` (the family's framing) from the first one on, so any API node can serve the stream and
 * a retry replays the whole answer. The event stream opens (status, headers) with the first entry:
 * until then the answer is still open, and the family answers a failure its own way. Only the wait
 * for the first entry is bounded (`waitMs`, ms); a started stream runs to its end.
 */
export async function relayTokens(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task, waitMs: number, write: (data: string) => void): Promise<RelayEnd> {
  const tokens = createTokenStreams({ redis: deps.redis, prefix: deps.prefix });
  const closed = closedSignal(req);
  let last = '-';
  let started = false;
  let wroteAt = Date.now();
  const deadline = Date.now() + waitMs;
  const finished = async (): Promise<RelayEnd> => ({ kind: 'finished', task: (await deps.store.get(task.id)) ?? task, started });

  const end = await follow(
    deps,
    task.id,
    24 * 3600_000,
    async (): Promise<RelayEnd | undefined> => {
      // Status first (only the status: this runs per chunk): once the task is finished, every
      // chunk is already in the stream.
      const status = await deps.store.status(task.id);
      const entries = await tokens.read(task.id, last, BATCH);
      for (const entry of entries) {
        last = entry.id;
        if (entry.kind === 'end') return started ? { kind: 'done' } : finished();
        if (!started) {
          openEventStream(reply, task.id);
          started = true;
        }
        write(entry.data);
        wroteAt = Date.now();
      }
      if (entries.length === BATCH) return undefined; // more to read right away
      if (started && entries.length === 0 && Date.now() - wroteAt >= KEEP_ALIVE_MS) {
        reply.raw.write(': keep-alive\n\n');
        wroteAt = Date.now();
      }
      if (status && isTerminal(status)) return status === 'succeeded' && started ? { kind: 'done' } : finished();
      if (!started && Date.now() >= deadline) return { kind: 'waited' };
      return undefined;
    },
    { closed, pollMs: 500 },
  );
  return end ?? { kind: closed.aborted ? 'left' : 'shutdown', started };
}
