import { PermanentUpstreamError, RetryableUpstreamError } from '../../../shared/errors.js';
import { ERROR_STATUS } from '../../../shared/families/anthropic/errors.js';
import { createMessageAggregator, isMessage, type Json } from '../../../shared/families/anthropic/message.js';
import { htmlTitle, isHtml } from '../../upstream/error-body.js';
import { faultError, faultIn, looseFault, type UpstreamFault } from '../../upstream/faults.js';
import { looksLikeSse, parseSse, type SseEvent } from '../../upstream/sse.js';
import type { Answer } from './client.js';

/**
 * The one place that decides whether a 2xx from an Anthropic-compatible upstream is a success: a
 * Message, or a stream of Message events that reaches its end. Errors it finds are classified by
 * worker/upstream/faults.ts, with the status Anthropic gives each error type (overloaded_error
 * 529, api_error 500 and rate_limit_error 429 are retried; invalid_request_error 400 and the
 * like are permanent); bodies that say nothing are permanent 502s.
 */

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isJsonType = (contentType: string) => /^application\/([\w.+-]+\+)?json\b/i.test(contentType);
const isEventStream = (contentType: string) => /^text\/event-stream\b/i.test(contentType);

const snippet = (text: string) => {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
};

function tryJson(text: string): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return null;
  }
}

const notExpected = (got: string) => new PermanentUpstreamError(`upstream answered HTTP 200 with ${got} where a Message was expected`, 502);

/**
 * The error a body carries (`{"type":"error","error":{"type":"overloaded_error","message":…}}`,
 * or any shape faults.ts knows), with the HTTP status of its Anthropic error type; null for none.
 */
export function anthropicFault(body: unknown): UpstreamFault | null {
  const f = faultIn(body);
  if (!f) return null;
  return { ...f, status: f.status ?? (f.type !== null ? (ERROR_STATUS[f.type] ?? null) : null) };
}

/** One upstream event as the relay treats it: the frame to relay (`event:` and `data:` lines) and its type. */
export type EventStep = { frame: string; type: string } | 'end' | null;

export interface EventJudge {
  /** Events accepted so far. */
  readonly events: number;
  /** Whether what came so far is a whole Message: `message_stop`, or a stop reason in `message_delta`. */
  complete(): boolean;
  /** Whether `message_stop` itself came. */
  stopped(): boolean;
  /**
   * Reads one event: the frame to relay, `'end'` for a `[DONE]` (OpenAI's end marker, sent by relays that mix the formats), or null for
   * an event to skip (no data). An event without an `event:` line is named by its `type` (the SDKs
   * drop unnamed events). Throws the error an `error` event (or an error body) means.
   */
  event(ev: SseEvent): EventStep;
  /**
   * The whole Message; throws when the stream ended before it was whole. `head`, the start of the
   * body, lets a stream without a single event fail with the error it carried as plain JSON.
   */
  end(head?: string): Json;
}

/** Judges an Anthropic Messages event stream event by event, merging the Message as it goes. */
export function createEventJudge(): EventJudge {
  const agg = createMessageAggregator();
  let events = 0;
  let stopped = false;
  return {
    get events() {
      return events;
    },
    complete: () => stopped || agg.stopped(),
    stopped: () => stopped,
    event(ev) {
      const data = ev.data.trim();
      if (data === '[DONE]') return 'end';
      const parsed = data === '' ? null : tryJson(data);
      const value = parsed?.value;
      const fault = isObject(value) ? anthropicFault(value) : null;
      if (ev.event === 'error' || fault) {
        throw faultError(fault ?? looseFault(value) ?? { message: data || 'upstream sent an error event', type: null, code: null, param: null, status: null });
      }
      if (data === '') return null;
      if (!isObject(value)) throw new PermanentUpstreamError(`upstream sent a stream event that is not JSON: "${snippet(data)}"`, 502);
      const named = ev.event !== null && ev.event !== 'message' ? ev.event : null;
      const type = named ?? (typeof value.type === 'string' && value.type ? value.type : null);
      if (!type) throw new PermanentUpstreamError(`upstream sent a stream event that is not an Anthropic Messages event: "${snippet(data)}"`, 502);
      agg.add(value);
      if (type === 'message_stop') stopped = true;
      events++;
      // A multi-line data field is valid JSON but would break the relay's own framing.
      return { frame: `event: ${type}\ndata: ${/[\r\n]/.test(ev.data) ? JSON.stringify(value) : ev.data}`, type };
    },
    end(head) {
      if (events === 0 && head) {
        const parsed = tryJson(head.trim());
        const fault = parsed ? (anthropicFault(parsed.value) ?? looseFault(parsed.value)) : null;
        if (fault) throw faultError(fault);
      }
      if (!agg.started() || !(stopped || agg.stopped())) throw new RetryableUpstreamError(`upstream stream ended before ${agg.started() ? 'message_stop' : 'message_start'}`, 502);
      return agg.result();
    },
  };
}

/**
 * Judges the 2xx answer to a non-stream call. Returns the answer to keep: unchanged, except that
 * an event stream comes back as the whole Message (JSON), and JSON sent with another content type
 * is labelled JSON. Throws RetryableUpstreamError or PermanentUpstreamError (never with the 200
 * attached): for an error body, an HTML page, an empty or malformed body, JSON of another shape.
 */
export function judgeMessage(answer: Answer): Answer {
  const head = answer.body.subarray(0, 4096).toString('utf8');
  const text = answer.body.toString('utf8');
  if (isEventStream(answer.contentType) || (!isJsonType(answer.contentType) && looksLikeSse(head))) {
    const judge = createEventJudge();
    for (const ev of parseSse(text)) if (judge.event(ev) === 'end') break;
    return { status: answer.status, contentType: 'application/json', body: Buffer.from(JSON.stringify(judge.end(head))) };
  }
  if (isHtml(answer.contentType, head)) {
    const title = htmlTitle(head);
    throw notExpected(`an HTML page${title ? ` ("${snippet(title)}")` : ''}`);
  }
  if (answer.body.length === 0) throw notExpected('an empty body');
  const parsed = tryJson(text);
  if (!parsed) throw notExpected(`a body that is not JSON (truncated or malformed: "${snippet(text)}")`);
  const fault = anthropicFault(parsed.value);
  if (fault) throw faultError(fault);
  if (!isMessage(parsed.value)) {
    const loose = looseFault(parsed.value);
    if (loose) throw faultError(loose);
    throw notExpected(`JSON of another shape ("${snippet(text)}")`);
  }
  return isJsonType(answer.contentType) ? answer : { ...answer, contentType: 'application/json' };
}
