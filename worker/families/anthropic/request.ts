import type { Channel } from '../../../shared/channels/config.js';
import { CanceledError, CutShortError, PermanentUpstreamError, RetryableUpstreamError, ValidationError } from '../../../shared/errors.js';
import { anthropicFamily } from '../../../shared/families/anthropic/family.js';
import { eventsOf, frameOf, type Json } from '../../../shared/families/anthropic/message.js';
import type { AnthropicTask } from '../../../shared/families/anthropic/task.js';
import type { TokenStreams } from '../../../shared/protocols/tokens.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { TaskStore } from '../../../shared/tasks/store.js';
import { blameOf, type ChannelRunner } from '../../channels/run.js';
import { callForTask } from '../../channels/task-call.js';
import type { Processor } from '../../dispatch.js';
import { endWhenQuiet } from '../../upstream/sse.js';
import type { AnthropicClient, Answer, ForwardedHeaders } from './client.js';
import { createEventJudge, judgeMessage } from './judge.js';

export interface AnthropicDeps {
  store: TaskStore;
  /** The streaming tasks' token streams (shared/protocols/tokens.ts). */
  tokens: TokenStreams;
  /** Routes each call to a channel, within its limits, failing over (worker/channels/run.ts). */
  channels: ChannelRunner;
  client: (channel: Channel) => AnthropicClient;
}

/** Outputs up to this size are kept parsed on the task (the generic view shows them). */
const INLINE_OUTPUT_BYTES = 1 << 20;

/** The events that carry the answer itself: the first of them releases the events held before it. */
const CONTENT_EVENTS: ReadonlySet<string> = new Set(['content_block_delta', 'message_delta', 'message_stop']);

function outputOf(answer: Answer): unknown {
  if (answer.body.length > INLINE_OUTPUT_BYTES) return { content_type: answer.contentType, bytes: answer.body.length };
  return JSON.parse(answer.body.toString('utf8')) as unknown;
}

/**
 * A failure after events reached the client: final, since half a stream cannot be taken back;
 * a CutShortError (still a failure of the channel) when the channel was to blame.
 */
function final(err: unknown): PermanentUpstreamError {
  const upstream = err instanceof RetryableUpstreamError || err instanceof PermanentUpstreamError ? err : null;
  const Final = blameOf(err) === 'unwell' ? CutShortError : PermanentUpstreamError;
  return new Final((err as Error).message, upstream?.status ?? 502, undefined, undefined, upstream?.upstreamError);
}

/**
 * Runs one Messages task: forwards the request as it came to a channel, keeps the upstream's
 * answer (the `response` blob, replayed by sync calls) and the Message as the task's output; for
 * `stream: true`, relays each upstream event through the task's token stream as an SSE frame.
 */
export function createAnthropicRequest(deps: AnthropicDeps): Processor<'anthropic.request'> {
  const { store, tokens } = deps;

  /**
   * Relays a stream call. Events are held back until the first one that carries the answer (a
   * delta, or the Message's end): an upstream that fails right after `message_start` — Anthropic's
   * `overloaded_error` often comes so — keeps its error's class, so the call is retried or moved
   * to another channel as if it had been refused, and the client never sees the failed start.
   * After that a failure is final. A JSON answer (an upstream that ignored `stream`) goes out as
   * the events a stream would have carried. Returns the whole Message as JSON.
   */
  async function stream(task: AnthropicTask, client: AnthropicClient, body: Buffer, fwd: ForwardedHeaders, signal: AbortSignal): Promise<Answer> {
    // An earlier run (on a worker that died or ran out of grace) already relayed part of the
    // answer to the client: a second upstream call would append another Message to it.
    const relayed = await tokens.length(task.id);
    if (relayed > 0) throw new PermanentUpstreamError(`the stream was cut after ${relayed} events when its worker stopped; half a stream cannot be resumed: call again`, 502);
    // Aborted by the relay itself when the upstream stays silent after the stop reason.
    const quiet = new AbortController();
    const opened = await client.stream(body, fwd, AbortSignal.any([signal, quiet.signal]));
    if (opened.kind === 'whole') {
      const answer = judgeMessage(opened.answer);
      for (const event of eventsOf(JSON.parse(answer.body.toString('utf8')) as Json)) await tokens.chunk(task.id, frameOf(event));
      return answer;
    }
    const judge = createEventJudge();
    const held: string[] = [];
    let flushed = false;
    const flush = async () => {
      for (const frame of held.splice(0)) await tokens.chunk(task.id, frame);
      flushed = true;
    };
    let reading = true;
    try {
      // A relay that sends the stop reason, then neither message_stop nor the end of the
      // connection, would hold the client until the idle timeout: the Message is whole already.
      for await (const ev of endWhenQuiet(opened.events, () => judge.complete(), () => quiet.abort())) {
        reading = false;
        const step = judge.event(ev);
        if (step === 'end') break;
        if (step) {
          held.push(step.frame);
          if (flushed || CONTENT_EVENTS.has(step.type)) await flush();
        }
        // The Message is whole: a relay that keeps the connection open adds nothing.
        if (judge.stopped()) break;
        reading = true;
      }
    } catch (err) {
      if (err instanceof CanceledError) throw err;
      // A connection that drops or goes quiet after the stop reason lost nothing but message_stop.
      const lostNothing = reading && err instanceof RetryableUpstreamError && judge.complete();
      if (!lostNothing) throw flushed ? final(err) : err;
    }
    let message: Json;
    try {
      message = judge.end(opened.head());
    } catch (err) {
      throw flushed ? final(err) : err;
    }
    if (!judge.stopped()) held.push(frameOf({ type: 'message_stop' }));
    await flush();
    return { status: 200, contentType: 'application/json', body: Buffer.from(JSON.stringify(message)) };
  }

  return async ({ data, job, signal, log }) => {
    // Both reads at once: the task and its stored request.
    const [task, blobs] = await Promise.all([store.get(data.taskId), store.blobs(data.taskId)]);
    if (!task || isTerminal(task.status)) return;
    if (task.family !== 'anthropic') throw new ValidationError('task', `${task.kind} is not an Anthropic task`);
    const request = blobs.request;
    if (!request) throw new ValidationError('request', 'the stored request is missing (expired?)');
    const { model, stream: streaming, version, beta } = task.anthropic;
    const prior = task.channel_attempts ?? [];
    const { value: answer, attempts } = await callForTask(deps, task, job.attemptsMade + 1, { type: anthropicFamily.channelType, kind: task.kind, model }, log, async (channel) => {
      const client = deps.client(channel);
      return streaming ? stream(task, client, request.data, { version, beta }, signal) : judgeMessage(await client.create(request.data, { version, beta }, signal));
    });
    // The answer is kept in the same step as the success it comes with.
    await store.update(task, {
      status: 'succeeded',
      blobs: { response: { type: answer.contentType, data: answer.body } },
      patch: {
        progress: 100,
        completed_at: Date.now(),
        output: outputOf(answer),
        response: { status: answer.status, content_type: answer.contentType },
        channel_attempts: [...prior, ...attempts],
      },
    });
    // The end marker comes after the result is stored: a client told "done" finds it there.
    if (streaming) await tokens.end(task.id);
  };
}
