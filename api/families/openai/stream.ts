import type { FastifyReply, FastifyRequest } from 'fastify';
import { chunksOf, type Json } from '../../../shared/families/openai/aggregate.js';
import type { Task } from '../../../shared/tasks/model.js';
import type { Preference } from '../../prefer.js';
import { replyAccepted, replyUnfinished, replyWithTask } from '../../replay.js';
import { openEventStream, type SseDeps } from '../../sse.js';
import { relayTokens, type Abandon } from '../../token-relay.js';

/** An OpenAI-style SSE error event: the SDKs raise it as an APIError from the stream. */
const errorEvent = (error: { message: string; type: string; code: string | null; param?: string | null }) => `data: ${JSON.stringify({ error: { param: null, ...error } })}\n\n`;

/**
 * Relays a streaming completion (`stream: true`). The worker appends each upstream chunk to the
 * task's token stream in Redis; this writes them as OpenAI server-sent events and `[DONE]` once
 * the task succeeded (the worker marks it so only for a stream the upstream finished). Any API
 * node can serve it, and a retry replays the whole answer from the first chunk (api/token-relay.ts).
 *
 * Until the first chunk the answer is still open: a failure is answered like a sync call (the
 * upstream's own refusal, or an error envelope), and no chunk within `pref.waitMs` gives the
 * 202 task for `Prefer: wait`, or the retryable "still running" error for a plain call. A
 * started stream runs to its end; a cancel, an upstream break or this node's shutdown (after
 * its grace period) ends it with an error event, never with a clean end. With `abandon`, a
 * client that leaves (a stop button) as the last reader cancels the task, so the upstream stops
 * generating.
 */
export async function streamTokens(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task, pref: Preference, abandon?: Abandon) {
  const write = (data: string) => reply.raw.write(`data: ${data}\n\n`);
  const end = await relayTokens(req, reply, deps, task, pref.waitMs, write, abandon);

  if (end.kind === 'done') {
    write('[DONE]');
    return reply.raw.end();
  }
  if (end.kind === 'waited') {
    const now = (await deps.store.get(task.id)) ?? task;
    return pref.mode === 'wait' ? replyAccepted(req, reply, now) : replyUnfinished(reply, now, { reason: 'timeout', waitedMs: pref.waitMs });
  }
  if (end.kind === 'finished') {
    const outcome = end.task;
    if (!end.started && outcome.status === 'succeeded' && outcome.family === 'openai' && outcome.openai.stream) {
      // The chunks expired (an Idempotency-Key replay a day later): the stored completion, as chunks.
      const kind = outcome.openai.endpoint === 'completions' ? 'text' : 'chat';
      if (outcome.output && typeof outcome.output === 'object' && 'choices' in outcome.output) {
        openEventStream(reply, task.id);
        for (const chunk of chunksOf(outcome.output as Json, kind)) write(JSON.stringify(chunk));
        write('[DONE]');
        return reply.raw.end();
      }
    }
    if (!end.started) return replyWithTask(reply, deps.store, outcome);
    // Ended mid-stream (canceled, upstream broke).
    const e = outcome.error;
    reply.raw.write(errorEvent({ message: e?.message ?? `task ${outcome.status}`, type: e?.type ?? 'stream_error', code: e?.code ?? null, param: e?.param ?? null }));
    return reply.raw.end();
  }
  if (end.kind === 'left') return end.started ? reply.raw.end() : undefined;
  // This API node is shutting down and its grace period is over.
  if (!end.started) return pref.mode === 'wait' ? replyAccepted(req, reply, (await deps.store.get(task.id)) ?? task) : replyUnfinished(reply, task, { reason: 'shutdown' });
  reply.raw.write(
    errorEvent({ message: `this relayq node is shutting down mid-stream; call again, or read task ${task.id} (GET /v1/tasks/${task.id}), which finishes if another worker holds it`, type: 'service_unavailable', code: 'shutting_down' }),
  );
  return reply.raw.end();
}
