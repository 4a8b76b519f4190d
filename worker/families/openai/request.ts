import type { Archiver } from '../../archive.js';
import { archiveImages } from './archive.js';
import { servesModel, type Channel } from '../../../shared/channels/config.js';
import type { ChannelRegistry } from '../../../shared/channels/registry.js';
import { CanceledError, CutShortError, PermanentUpstreamError, RetryableUpstreamError, ValidationError } from '../../../shared/errors.js';
import { chunksOf, type Json, type StreamKind } from '../../../shared/families/openai/aggregate.js';
import type { FormFields } from '../../../shared/families/openai/endpoints.js';
import type { ModelsCache } from '../../../shared/families/openai/models-cache.js';
import type { OpenAiTask } from '../../../shared/families/openai/task.js';
import type { Logger } from '../../../shared/logger.js';
import { parseMultipart } from '../../../shared/multipart.js';
import type { TokenStreams } from '../../../shared/protocols/tokens.js';
import { isTerminal } from '../../../shared/tasks/model.js';
import type { Blobs, TaskStore } from '../../../shared/tasks/store.js';
import { blameOf, type ChannelRunner } from '../../channels/run.js';
import { callForTask } from '../../channels/task-call.js';
import type { Processor } from '../../dispatch.js';
import type { OpenAiClient, UpstreamAnswer } from './client.js';
import { endWhenQuiet } from '../../upstream/sse.js';
import { createStreamJudge, expectationOf, judgeAnswer } from './judge.js';

export interface OpenAiDeps {
  store: TaskStore;
  /** The streaming tasks' token streams (shared/protocols/tokens.ts). */
  tokens: TokenStreams;
  /** Routes each call to a channel, within its limits, failing over (worker/channels/run.ts). */
  channels: ChannelRunner;
  client: (channel: Channel) => OpenAiClient;
  /** Copies image outputs into relayq (ARCHIVE_OUTPUTS); null when off. */
  archiver?: Archiver | null;
}

type Task = OpenAiTask;

/** Outputs up to this size are also kept parsed on the task (the generic view shows them). */
const INLINE_OUTPUT_BYTES = 1 << 20;

/**
 * The upstream body: exactly the bytes the client sent, with their content type (for multipart,
 * the client's boundary). Multipart tasks stored by earlier versions (fields as JSON, files as
 * `file.<name>` blobs) are rebuilt into a form.
 */
async function requestBody(task: Task, blobs: Blobs): Promise<{ body: Buffer; contentType: string }> {
  const request = blobs.request;
  if (!request) throw new ValidationError('request', 'the stored request is missing (expired?)');
  if (!task.openai?.multipart || /^multipart\//i.test(request.type)) return { body: request.data, contentType: request.type };
  const form = new FormData();
  for (const [name, value] of JSON.parse(request.data.toString('utf8')) as FormFields) form.append(name, value);
  for (const [key, blob] of Object.entries(blobs)) {
    if (key.startsWith('file.')) form.append(key.slice(5), new Blob([blob.data], { type: blob.type }), blob.filename ?? 'upload');
  }
  const encoded = new Response(form);
  return { body: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type') ?? 'multipart/form-data' };
}

/**
 * A plain field of a multipart request as the client sent it (the first of that name); null for
 * JSON requests, a missing field, or a body that does not parse.
 */
function formField(task: Task, blobs: Blobs, name: string): string | null {
  const request = blobs.request;
  if (!task.openai?.multipart || !request) return null;
  try {
    if (/^multipart\//i.test(request.type)) {
      const part = parseMultipart(request.data, request.type).find((p) => p.name === name && p.filename === null);
      return part ? part.data.toString('utf8') : null;
    }
    // Stored by earlier versions: the fields as JSON pairs.
    return (JSON.parse(request.data.toString('utf8')) as FormFields).find(([n]) => n === name)?.[1] ?? null;
  } catch {
    return null;
  }
}

const isJson = (contentType: string) => /^application\/(.+\+)?json\b/i.test(contentType);

function outputOf(answer: UpstreamAnswer): unknown {
  if (isJson(answer.contentType) && answer.body.length <= INLINE_OUTPUT_BYTES) {
    try {
      return JSON.parse(answer.body.toString('utf8'));
    } catch {
      // a JSON content type with a non-JSON body: keep the bytes only
    }
  }
  return { content_type: answer.contentType, bytes: answer.body.length };
}

/**
 * Whether a stream chunk carries any of the answer: text, a tool call, a refusal, reasoning, a
 * finish reason or usage. A chunk with only the role (the usual first one) does not: until one
 * that does comes, nothing has reached the client and a failure can still move to another channel.
 */
function carriesContent(chunk: Json): boolean {
  if (chunk.usage) return true;
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as Json[]) : [];
  return choices.some((c) => {
    if (!c || typeof c !== 'object') return false;
    if (c.finish_reason !== null && c.finish_reason !== undefined) return true;
    if (typeof c.text === 'string' && c.text !== '') return true;
    const delta = c.delta && typeof c.delta === 'object' ? (c.delta as Json) : {};
    return Object.entries(delta).some(([k, v]) => k !== 'role' && v !== null && v !== undefined && v !== '');
  });
}

/** Whether a JSON request body asks for the usage chunk at the end of a stream (`stream_options.include_usage`). */
function asksForUsage(body: Buffer): boolean {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { stream_options?: { include_usage?: unknown } } | null;
    return parsed?.stream_options?.include_usage === true;
  } catch {
    return false;
  }
}

/**
 * Runs one OpenAI-style task: forwards the request as it came, keeps the upstream's answer byte
 * for byte (the `response` blob, replayed by sync calls and `/content`) and, for `stream: true`,
 * relays each chunk through the task's token stream while building the whole result.
 */
export function createOpenAiRequest(deps: OpenAiDeps): Processor<'text.request' | 'image.request' | 'audio.request'> {
  const { store, tokens } = deps;

  /**
   * Relays a `stream: true` call: each chunk the upstream sends goes to the token stream as it
   * comes; a JSON answer (the upstream ignored `stream`) goes as the chunks a stream would have
   * carried. Returns the whole completion. Chunks with no content yet (the role) are held back
   * until content comes, so a failure before any content reached the client keeps its class (an
   * overloaded or cut upstream moves to another channel); after it a failure is final, since half
   * a stream cannot be taken back (a CutShortError when the channel was to blame).
   */
  async function stream(task: Task, client: OpenAiClient, body: Buffer, signal: AbortSignal): Promise<UpstreamAnswer> {
    // An earlier run (on a worker that died or ran out of grace) already relayed part of the
    // answer to the client: a second upstream call would append another answer to it.
    const relayed = await tokens.length(task.id);
    if (relayed > 0) throw new PermanentUpstreamError(`the stream was cut after ${relayed} chunks when its worker stopped; half a stream cannot be resumed: call again`, 502);
    const endpoint = task.openai!.endpoint;
    const kind: StreamKind = endpoint === 'completions' ? 'text' : 'chat';
    // Aborted by the relay itself when the upstream stays silent after the answer is whole.
    const quiet = new AbortController();
    const opened = await client.stream(endpoint, body, AbortSignal.any([signal, quiet.signal]));
    if (opened.kind === 'whole') {
      const answer = judgeAnswer(kind, opened.answer);
      for (const chunk of chunksOf(JSON.parse(answer.body.toString('utf8')) as Json, kind)) await tokens.chunk(task.id, JSON.stringify(chunk));
      return answer;
    }
    const judge = createStreamJudge(kind);
    const answer = (): UpstreamAnswer => ({ status: 200, contentType: 'application/json', body: Buffer.from(JSON.stringify(judge.end(opened.head()))) });
    const held: string[] = [];
    let sent = 0;
    const send = async (data: string) => {
      for (const h of held.splice(0)) await tokens.chunk(task.id, h);
      await tokens.chunk(task.id, data);
      sent++;
    };
    const finish = async (answer: UpstreamAnswer) => {
      for (const h of held.splice(0)) await tokens.chunk(task.id, h);
      return answer;
    };
    // The usage chunk, when the call asked for one, comes after every choice finished.
    const wantsUsage = asksForUsage(body);
    let usage = false;
    const whole = () => judge.complete() && (usage || !wantsUsage);
    let reading = true;
    try {
      // An upstream that finished every choice, then neither sends [DONE] nor closes, would hold
      // the client until the idle timeout.
      for await (const event of endWhenQuiet(opened.events, whole, () => quiet.abort())) {
        reading = false;
        const step = judge.event(event);
        if (step === 'done') break;
        if (step) {
          if (step.chunk.usage) usage = true;
          if (sent === 0 && !carriesContent(step.chunk)) held.push(step.data);
          else await send(step.data);
        }
        reading = true;
      }
      return await finish(answer());
    } catch (err) {
      if (err instanceof CanceledError) throw err;
      // A connection that drops or goes quiet after every choice finished lost nothing.
      if (reading && err instanceof RetryableUpstreamError && judge.complete()) return await finish(answer());
      if (sent === 0) throw err;
      const upstream = err instanceof RetryableUpstreamError || err instanceof PermanentUpstreamError ? err : null;
      const Final = blameOf(err) === 'unwell' ? CutShortError : PermanentUpstreamError;
      throw new Final((err as Error).message, upstream?.status ?? 502, undefined, undefined, upstream?.upstreamError);
    }
  }

  return async ({ data, job, signal, log }) => {
    // Both reads at once: the task and its stored request.
    const [task, blobs] = await Promise.all([store.get(data.taskId), store.blobs(data.taskId)]);
    if (!task || isTerminal(task.status)) return;
    if (task.family !== 'openai') throw new ValidationError('task', `${task.kind} is not an OpenAI task`);
    const openai = task.openai;
    const { body, contentType } = await requestBody(task, blobs);
    const prior = task.channel_attempts ?? [];
    // A refusal keeps its upstream answer: the dispatcher writes it with the failure. A 2xx is
    // judged first: an error or a page where the answer belongs fails the task.
    const { value: answer, attempts } = await callForTask(deps, task, job.attemptsMade + 1, { type: 'openai', kind: task.kind, model: openai.model }, log, async (channel) => {
      const client = deps.client(channel);
      return openai.stream
        ? stream(task, client, body, signal)
        : judgeAnswer(expectationOf(openai.endpoint, formField(task, blobs, 'response_format')), await client.call(openai.endpoint, body, signal, contentType));
    });
    // Image URLs expire upstream within hours: with ARCHIVE_OUTPUTS the answer names relayq's copies.
    const { answer: kept, archived } = deps.archiver && openai.endpoint.startsWith('images/') ? await archiveImages(deps.archiver, task.id, answer, log) : { answer, archived: [] };
    // The answer is kept in the same step as the success it comes with.
    await store.update(task, {
      status: 'succeeded',
      blobs: { response: { type: kept.contentType, data: kept.body } },
      patch: {
        ...(archived.length > 0 ? { archived } : {}),
        progress: 100,
        completed_at: Date.now(),
        output: outputOf(kept),
        response: { status: answer.status, content_type: answer.contentType },
        channel_attempts: [...prior, ...attempts],
      },
    });
    // The end marker comes after the result is stored: a client told "done" finds it there.
    if (openai.stream) await tokens.end(task.id);
  };
}

/**
 * Refreshes the cached model list — every enabled OpenAI channel's models, merged by id (a
 * channel with `models` set lists only those it serves) — and wakes the callers waiting for it.
 * A channel that cannot answer is left out; with none answering the list is empty.
 */
export function createOpenAiModels(deps: Pick<OpenAiDeps, 'client'> & { registry: ChannelRegistry; models: ModelsCache; log: Logger }): Processor<'openai.models'> {
  return async () => {
    const merged = new Map<string, Json>();
    const channels = deps.registry.ofType('openai').filter((c) => c.enabled).sort((a, b) => b.priority - a.priority);
    const lists = await Promise.all(
      channels.map(async (channel) => {
        try {
          const answer = judgeAnswer('models', await deps.client(channel).models());
          const data = (JSON.parse(answer.body.toString('utf8')) as { data?: unknown }).data;
          return { channel, models: Array.isArray(data) ? (data as Json[]) : [] };
        } catch (err) {
          deps.log.warn({ channel: channel.name, reason: (err as Error).message }, 'channel model list unavailable');
          return { channel, models: [] as Json[] };
        }
      }),
    );
    for (const { channel, models } of lists) {
      for (const m of models) if (typeof m.id === 'string' && servesModel(channel, m.id) && !merged.has(m.id)) merged.set(m.id, m);
    }
    await deps.models.write(JSON.stringify({ object: 'list', data: [...merged.values()] }));
  };
}
