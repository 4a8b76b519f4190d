import type { FastifyReply, FastifyRequest } from 'fastify';
import { anthropicError } from '../../../shared/families/anthropic/errors.js';
import { eventsOf, frameOf, isMessage } from '../../../shared/families/anthropic/message.js';
import type { Task } from '../../../shared/tasks/model.js';
import type { Preference } from '../../prefer.js';
import { replyAccepted } from '../../replay.js';
import { openEventStream, type SseDeps } from '../../sse.js';
import { relayTokens, type Abandon } from '../../token-relay.js';
import { replyUnfinishedMessage, replyWithMessage, taskErrorBody } from './reply.js';

/** An Anthropic `error` event: the SDKs raise it as an APIError from the stream. */
const errorFrame = (body: unknown) => `event: error\ndata: ${JSON.stringify(body)}\n\n`;

/**
 * Relays a streaming Messages call (`stream: true`) as Anthropic server-sent events. The worker
 * appends each upstream event to the task's token stream as a whole frame (`event: <type>` and
 * its `data:` line, see api/token-relay.ts), so the events go out as the upstream sent them,
 * `message_stop` last; any API node can serve the stream and a retry replays it from
 * `message_start`.
 *
 * Until the first event the answer is still open: a failure is answered like a sync call (the
 * upstream's own refusal, or Anthropic's error envelope), and no event within `pref.waitMs` gives
 * the 202 task for `Prefer: wait`, or the retryable "still running" error for a plain call. A
 * started stream that a cancel, an upstream break or this node's shutdown ends gets an `error`
 * event, never a clean end. With `abandon`, a client that leaves (Claude Code's ESC, a stop
 * button) as the last reader cancels the task, so the upstream stops generating.
 */
export async function streamMessage(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task, pref: Preference, abandon?: Abandon) {
  const write = (frame: string) => reply.raw.write(`${frame}\n\n`);
  const end = await relayTokens(req, reply, deps, task, pref.waitMs, write, abandon);

  if (end.kind === 'done') return reply.raw.end();
  if (end.kind === 'waited') {
    const now = (await deps.store.get(task.id)) ?? task;
    return pref.mode === 'wait' ? replyAccepted(req, reply, now) : replyUnfinishedMessage(reply, now, { reason: 'timeout', waitedMs: pref.waitMs });
  }
  if (end.kind === 'finished') {
    const outcome = end.task;
    if (!end.started && outcome.status === 'succeeded' && isMessage(outcome.output)) {
      // The events expired (an Idempotency-Key replay a day later): the stored Message, as events.
      openEventStream(reply, task.id);
      for (const event of eventsOf(outcome.output)) write(frameOf(event));
      return reply.raw.end();
    }
    if (!end.started) return replyWithMessage(reply, deps.store, outcome);
    // Ended mid-stream (canceled, upstream broke).
    reply.raw.write(errorFrame(taskErrorBody(outcome)));
    return reply.raw.end();
  }
  if (end.kind === 'left') return end.started ? reply.raw.end() : undefined;
  // This API node is shutting down and its grace period is over.
  if (!end.started) return pref.mode === 'wait' ? replyAccepted(req, reply, (await deps.store.get(task.id)) ?? task) : replyUnfinishedMessage(reply, task, { reason: 'shutdown' });
  reply.raw.write(errorFrame(anthropicError('api_error', `this relayq node is shutting down mid-stream; call again, or read task ${task.id} (GET /v1/tasks/${task.id}), which finishes if another worker holds it`, task.id)));
  return reply.raw.end();
}
