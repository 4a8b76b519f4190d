import { PermanentUpstreamError, RetryableUpstreamError } from '../../../shared/errors.js';
import { createAggregator, type Json, type StreamKind } from '../../../shared/families/openai/aggregate.js';
import { htmlTitle, isHtml } from '../../upstream/error-body.js';
import { faultError, faultIn, looseFault } from '../../upstream/faults.js';
import { looksLikeSse, parseSse, type SseEvent } from '../../upstream/sse.js';

/**
 * The one place that decides whether a 2xx from an OpenAI-compatible upstream is a success: a
 * well-formed answer of the type the endpoint promises. Anything else throws the error it means
 * (faults.ts classifies what the body says; bodies that say nothing are permanent 502s).
 */
export interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** What an endpoint answers: JSON of a known shape (`json`: any JSON), audio bytes, or transcript text. */
export type Expectation = 'chat' | 'text' | 'embedding' | 'image' | 'models' | 'speech' | 'transcript' | 'transcript-text' | 'json';

/** The expectation for an endpoint path under `/v1/` (and, for transcripts, the `response_format` asked for). */
export function expectationOf(endpoint: string, responseFormat?: string | null): Expectation {
  if (endpoint === 'chat/completions') return 'chat';
  if (endpoint === 'completions') return 'text';
  if (endpoint === 'embeddings') return 'embedding';
  if (endpoint === 'models') return 'models';
  if (endpoint.startsWith('images/')) return 'image';
  if (endpoint === 'audio/speech') return 'speech';
  if (endpoint.startsWith('audio/')) return responseFormat === 'text' || responseFormat === 'srt' || responseFormat === 'vtt' ? 'transcript-text' : 'transcript';
  return 'json';
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown) => Array.isArray(v) && v.every(isObject);

/** The minimal shape of each JSON answer (what every client of that endpoint reads). */
const SHAPES: Record<Exclude<Expectation, 'speech' | 'transcript-text'>, { what: string; ok: (j: Json) => boolean }> = {
  chat: { what: 'a chat completion', ok: (j) => objects(j.choices) && (j.choices as Json[]).length > 0 && (j.choices as Json[]).every((c) => isObject(c.message)) },
  text: { what: 'a text completion', ok: (j) => objects(j.choices) && (j.choices as Json[]).length > 0 && (j.choices as Json[]).every((c) => typeof c.text === 'string') },
  embedding: { what: 'an embedding list', ok: (j) => objects(j.data) && (j.data as Json[]).every((d) => Array.isArray(d.embedding) || typeof d.embedding === 'string') },
  image: { what: 'an image result', ok: (j) => objects(j.data) },
  models: { what: 'a model list', ok: (j) => objects(j.data) },
  transcript: { what: 'a transcription', ok: (j) => typeof j.text === 'string' },
  json: { what: 'JSON', ok: () => true },
};

const snippet = (text: string) => {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
};

const isJsonType = (contentType: string) => /^application\/([\w.+-]+\+)?json\b/i.test(contentType);
const isEventStream = (contentType: string) => /^text\/event-stream\b/i.test(contentType);

function notExpected(what: string, got: string): PermanentUpstreamError {
  return new PermanentUpstreamError(`upstream answered HTTP 200 with ${got} where ${what} was expected`, 502);
}

function htmlError(what: string, text: string): PermanentUpstreamError {
  const title = htmlTitle(text);
  return notExpected(what, `an HTML page${title ? ` ("${snippet(title)}")` : ''}`);
}

/** Parses JSON, or null. */
function tryJson(text: string): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return null;
  }
}

/** Throws when an event stream carries an error event or an error chunk; otherwise returns. */
function scanEvents(events: SseEvent[]): void {
  for (const ev of events) {
    if (ev.data.trim() === '[DONE]') continue;
    const parsed = tryJson(ev.data);
    const fault = parsed ? (faultIn(parsed.value) ?? (ev.event === 'error' ? looseFault(parsed.value) : null)) : null;
    if (fault) throw faultError(fault);
    if (ev.event === 'error') throw faultError({ message: ev.data.trim() || 'upstream sent an error event', type: null, code: null, param: null, status: null });
  }
}

/**
 * Judges a 2xx answer against what the endpoint promises. Returns the answer to keep: unchanged,
 * except that an event stream answering a non-stream chat or text completion comes back as the
 * whole completion (JSON), and JSON sent with another content type is labelled JSON.
 * Throws RetryableUpstreamError or PermanentUpstreamError (never with the 200 attached).
 */
export function judgeAnswer(expect: Expectation, answer: Answer): Answer {
  const head = answer.body.subarray(0, 4096).toString('utf8');
  if (expect === 'speech') return judgeAudio(answer, head);
  const text = answer.body.toString('utf8');
  const sse = isEventStream(answer.contentType) || (!isJsonType(answer.contentType) && looksLikeSse(head));
  if (sse) {
    const events = parseSse(text);
    if (expect === 'chat' || expect === 'text') {
      const judge = createStreamJudge(expect);
      for (const ev of events) if (judge.event(ev) === 'done') break;
      return { status: answer.status, contentType: 'application/json', body: Buffer.from(JSON.stringify(judge.end())) };
    }
    // Images, transcripts (and speech above) may be streamed when the request asked for it.
    scanEvents(events);
    return answer;
  }
  if (expect === 'transcript-text') {
    if (isHtml(answer.contentType, head)) throw htmlError('a transcript', head);
    const parsed = tryJson(text);
    const fault = parsed ? faultIn(parsed.value) : null;
    if (fault) throw faultError(fault);
    return answer;
  }
  const shape = SHAPES[expect];
  if (isHtml(answer.contentType, head)) throw htmlError(shape.what, head);
  if (answer.body.length === 0) throw notExpected(shape.what, 'an empty body');
  const parsed = tryJson(text);
  if (!parsed) throw notExpected(shape.what, `a body that is not JSON (truncated or malformed: "${snippet(text)}")`);
  const fault = faultIn(parsed.value);
  if (fault) throw faultError(fault);
  if (expect !== 'json' && (!isObject(parsed.value) || !shape.ok(parsed.value))) {
    const loose = looseFault(parsed.value);
    if (loose) throw faultError(loose);
    throw notExpected(shape.what, `JSON of another shape ("${snippet(text)}")`);
  }
  return isJsonType(answer.contentType) ? answer : { ...answer, contentType: 'application/json' };
}

function judgeAudio(answer: Answer, head: string): Answer {
  if (answer.body.length === 0) throw notExpected('audio', 'an empty body');
  if (isHtml(answer.contentType, head)) throw htmlError('audio', head);
  if (isEventStream(answer.contentType)) {
    // `stream_format: "sse"` answers audio deltas as events.
    scanEvents(parseSse(answer.body.toString('utf8')));
    return answer;
  }
  const textual = isJsonType(answer.contentType) || /^text\//i.test(answer.contentType) || /^\s*[[{]/.test(head);
  if (!textual) return answer;
  // Audio never comes as JSON or text: whatever this says, it is not the speech.
  const text = answer.body.toString('utf8');
  const parsed = tryJson(text);
  if (!parsed) {
    if (isJsonType(answer.contentType) || /^text\//i.test(answer.contentType)) throw notExpected('audio', `${answer.contentType.split(';')[0]} ("${snippet(text)}")`);
    return answer;
  }
  const fault = faultIn(parsed.value) ?? looseFault(parsed.value);
  if (fault) throw faultError(fault);
  throw notExpected('audio', `JSON ("${snippet(text)}")`);
}

/** One event of a stream as the relay should treat it. */
export type StreamStep = { data: string; chunk: Json } | 'done' | null;

export interface StreamJudge {
  /** Chunks accepted so far. */
  readonly chunks: number;
  /** Whether what came so far is a whole answer (`[DONE]`, or every choice has a `finish_reason`). */
  complete(): boolean;
  /**
   * Reads one event: the data to relay (with its parsed chunk), `'done'` at `[DONE]`, or null for
   * an event to skip (blank data, pings). Throws the error an error event or error chunk means.
   */
  event(ev: SseEvent): StreamStep;
  /**
   * The whole completion; throws when the stream ended before it finished (no `[DONE]` and a
   * choice without `finish_reason`). `head`, the start of the body, lets a stream without a
   * single event fail with the error it carried as plain JSON (an error body labelled
   * `text/event-stream`).
   */
  end(head?: string): Json;
}

/**
 * Judges a chat or text completion stream event by event. Errors arrive as `event: error`
 * (OpenAI, Anthropic-style relays), as a `data:` chunk carrying `error` (OpenAI, OpenRouter,
 * vLLM), or as `finish_reason: "error"` (OpenRouter). A stream is complete when the upstream
 * sent `[DONE]`, or when every choice it sent has a `finish_reason`.
 */
export function createStreamJudge(kind: StreamKind): StreamJudge {
  const agg = createAggregator(kind);
  let chunks = 0;
  let done = false;
  const complete = () => chunks > 0 && (done || agg.finished());
  return {
    get chunks() {
      return chunks;
    },
    complete,
    event(ev) {
      const data = ev.data.trim();
      if (data === '[DONE]') {
        done = true;
        return 'done';
      }
      const parsed = data === '' ? null : tryJson(data);
      if (ev.event === 'error') {
        const value = parsed?.value;
        throw faultError(faultIn(value) ?? looseFault(value) ?? { message: data || 'upstream sent an error event', type: null, code: null, param: null, status: null });
      }
      // Named events other than errors (pings, comments in disguise) are not chunks.
      if ((ev.event !== null && ev.event !== 'message') || data === '') return null;
      if (!parsed || !isObject(parsed.value)) throw new PermanentUpstreamError(`upstream sent a stream event that is not a JSON chunk: "${snippet(data)}"`, 502);
      const chunk = parsed.value;
      const fault = faultIn(chunk);
      if (fault) throw faultError(fault);
      const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
      if (choices.some((c) => isObject(c) && c.finish_reason === 'error')) throw new RetryableUpstreamError('upstream ended the stream with finish_reason "error"', 502);
      agg.add(chunk);
      chunks++;
      // A multi-line data field is valid JSON but would break the relay's own framing.
      return { data: /[\r\n]/.test(ev.data) ? JSON.stringify(chunk) : ev.data, chunk };
    },
    end(head) {
      if (chunks === 0 && !done && head) {
        const parsed = tryJson(head.trim());
        const fault = parsed ? (faultIn(parsed.value) ?? looseFault(parsed.value)) : null;
        if (fault) throw faultError(fault);
      }
      if (!complete()) throw new RetryableUpstreamError('upstream stream ended before it finished', 502);
      return agg.result();
    },
  };
}
