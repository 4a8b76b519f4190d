import { checkStatus, readBody, send } from '../../upstream/http.js';
import type { Answer } from './judge.js';
import { openStream, type StreamOpening } from '../../upstream/stream-opening.js';

export interface OpenAiChannel {
  name: string;
  /** Base URL including `/v1`. */
  baseUrl: string;
  key: string;
}

/** An upstream's 2xx answer as it came: status, content type, bytes. */
export type UpstreamAnswer = Answer;


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
      return openStream(`${channel.baseUrl}/${endpoint}`, { headers: { ...headers(true), accept: 'text/event-stream' }, body, timeoutMs, signal });
    },

    async models(): Promise<UpstreamAnswer> {
      return whole('models', { method: 'GET', headers: headers(false), timeoutMs });
    },
  };
}

export type OpenAiClient = ReturnType<typeof createOpenAiClient>;
