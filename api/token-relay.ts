import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError } from '../shared/errors.js';
import { createTokenStreams, type TokenStreams } from '../shared/protocols/tokens.js';
import { isTerminal, type Task } from '../shared/tasks/model.js';
import { cancelTask, type CancelDeps } from './cancel.js';
import { follow } from './follow.js';
import type { Preference } from './prefer.js';
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
const KEEP_ALIVE_MS = 15_000;

/**
 * What to do with a task whose stream nobody reads any more: cancel it (the worker aborts the
 * upstream call, which would otherwise run, and be billed, to its end) `graceMs` (ms) after its
 * last reader left, unless a reader came back meanwhile (an SDK retry joining the task).
 */
export interface Abandon {
  cancel: CancelDeps;
  graceMs: number;
}

/**
 * The Abandon rule of a streaming call, or undefined when its task must outlive its reader: only a
 * plain call (no `Prefer`, no Idempotency-Key) of a task without a webhook is abandoned with its
 * client, since nobody else asked for its answer. `graceMs` 0 never abandons.
 */
export function abandonOf(args: { pref: Preference; idempotencyKey: string | undefined; task: Task; cancel: CancelDeps; graceMs: number }): Abandon | undefined {
  const plain = args.pref.mode === 'sync' && args.idempotencyKey === undefined && args.task.webhook === null;
  return plain && args.graceMs > 0 ? { cancel: args.cancel, graceMs: args.graceMs } : undefined;
}

/**
 * Cancels the task after `abandon.graceMs` if nobody reads its stream then and it is unfinished.
 * Runs on its own: the client it served is gone already.
 */
function cancelWhenAbandoned(log: FastifyBaseLogger, tokens: TokenStreams, task: Task, abandon: Abandon): void {
  const check = async () => {
    if ((await tokens.readers(task.id)) > 0) return;
    const now = await abandon.cancel.store.get(task.id);
    if (!now || isTerminal(now.status)) return;
    await cancelTask(abandon.cancel, now);
    log.info({ taskId: task.id, graceMs: abandon.graceMs }, 'stream abandoned by its client: task canceled');
  };
  const timer = setTimeout(() => {
    check().catch((err: unknown) => {
      // Finished meanwhile: nothing to cancel.
      if (!(err instanceof ConflictError)) log.warn({ err, taskId: task.id }, 'could not cancel an abandoned stream');
    });
  }, abandon.graceMs);
  timer.unref();
}

/**
 * Relays a streaming task's token stream (shared/protocols/tokens.ts) to one client, whatever the
 * family: the worker appends each upstream chunk as it comes; this writes every entry with
 * `write` (the family's framing) from the first one on, so any API node can serve the stream and
 * a retry replays the whole answer. The event stream opens (status, headers) with the first entry:
 * until then the answer is still open, and the family answers a failure its own way. Only the wait
 * for the first entry is bounded (`waitMs`, ms); a started stream runs to its end. Every reader is
 * counted (on all API nodes); with `abandon`, a client that leaves as the last reader cancels the
 * task after a grace (see Abandon).
 */
export async function relayTokens(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task, waitMs: number, write: (data: string) => void, abandon?: Abandon): Promise<RelayEnd> {
  const tokens = createTokenStreams({ redis: deps.redis, prefix: deps.prefix });
  const counted = await tokens.attach(task.id).then(
    () => true,
    () => false,
  );
  let end: RelayEnd;
  try {
    end = await relay(req, reply, deps, tokens, task, waitMs, write);
  } catch (err) {
    if (counted) await tokens.detach(task.id).catch(() => 0);
    throw err;
  }
  if (counted) {
    const readers = await tokens.detach(task.id).catch(() => 1);
    if (end.kind === 'left' && readers <= 0 && abandon) cancelWhenAbandoned(req.log, tokens, task, abandon);
  }
  return end;
}

async function relay(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, tokens: TokenStreams, task: Task, waitMs: number, write: (data: string) => void): Promise<RelayEnd> {
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
