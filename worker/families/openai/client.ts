import { bodyChunks, checkStatus, readBody, send } from '../../upstream/http.js';
import type { Answer } from './judge.js';
import { sseEvents, type SseEvent } from '../../upstream/sse.js';

export interface OpenAiChannel {
  name: string;
  /** Base URL including `/v1`. */
  baseUrl: string;
  key: string;
}

/** An upstream's 2xx answer as it came: status, content type, bytes. */
export type UpstreamAnswer = Answer;

/**
 * What a stream request got: the events of a `text/event-stream` answer as they arrive, or the
 * whole body of any other 2xx answer (an upstream that ignored `stream`, or sent an error as JSON).
 */
export type StreamOpening = { kind: 'events'; events: AsyncIterable<SseEvent>; head: () => string } | { kind: 'whole'; answer: UpstreamAnswer };

/** Bytes kept from the start of an event stream, to read an error sent there as plain JSON. */
const HEAD_BYTES = 4096;

/**
 * A client of one OpenAI-compatible upstream: requests are forwarded as they came. Non-2xx answers
 * throw their classified error here; whether a 2xx is a success is judged by the caller with
 * `judge.ts`. `timeoutMs` is an idle timeout (see RequestOptions); `answerWaitMs` is the longest
 * wait for the headers of a whole (non-stream) answer, which upstreams send only once the whole
 * answer is generated (an image, a reasoning model: minutes). Both in ms.
 */
export function createOpenAiClient(channel: OpenAiChannel, timeoutMs: number, answerWaitMs = timeoutMs) {
  const headers = (json: boolean): Record<string, string> => ({
    ...(channel.key ? { authorization: `Bearer ${channel.key}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  });

  async function whole(endpoint: string, opts: Parameters<typeof send>[1]): Promise<UpstreamAnswer> {
    const { res, idle } = await send(`${channel.baseUrl}/${endpoint}`, opts);
    const bytes = await readBody(res, opts, idle);
    checkStatus(res, bytes);
    return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/octet-stream', body: bytes };
  }

  return {
    channel,

    /**
     * A whole answer: a 2xx resolves with its bytes; anything else throws a classified error.
     * `contentType` is the client's, boundary included for multipart bodies forwarded as sent.
     */
    async call(endpoint: string, body: Buffer, signal?: AbortSignal, contentType = 'application/json'): Promise<UpstreamAnswer> {
      return whole(endpoint, { headers: { ...headers(false), 'content-type': contentType }, body, timeoutMs, headersTimeoutMs: Math.max(timeoutMs, answerWaitMs), signal });
    },

    /**
     * A `stream: true` request. A refusal (non-2xx) throws like `call`; a 2xx event stream yields
     * its events as they arrive (the idle timeout applies between pieces, never to the whole).
     */
    async stream(endpoint: string, body: Buffer, signal: AbortSignal | undefined): Promise<StreamOpening> {
      const opts = { headers: { ...headers(true), accept: 'text/event-stream' }, body, timeoutMs, signal };
      const { res, idle } = await send(`${channel.baseUrl}/${endpoint}`, opts);
      const contentType = res.headers.get('content-type') ?? '';
      if (!res.ok || !/^text\/event-stream\b/i.test(contentType)) {
        const bytes = await readBody(res, opts, idle);
        checkStatus(res, bytes);
        return { kind: 'whole', answer: { status: res.status, contentType: contentType || 'application/octet-stream', body: bytes } };
      }
      const head: Buffer[] = [];
      let kept = 0;
      async function* keepingHead() {
        for await (const chunk of bodyChunks(res, opts, idle)) {
          if (kept < HEAD_BYTES) {
            head.push(Buffer.from(chunk.subarray(0, HEAD_BYTES - kept)));
            kept += Math.min(chunk.length, HEAD_BYTES - kept);
          }
          yield chunk;
        }
      }
      return { kind: 'events', events: sseEvents(keepingHead()), head: () => Buffer.concat(head).toString('utf8') };
    },

    async models(): Promise<UpstreamAnswer> {
      return whole('models', { method: 'GET', headers: headers(false), timeoutMs });
    },
  };
}

export type OpenAiClient = ReturnType<typeof createOpenAiClient>;
