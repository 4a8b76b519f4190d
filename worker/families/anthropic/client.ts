import { DEFAULT_ANTHROPIC_VERSION } from '../../../shared/families/anthropic/task.js';
import { checkStatus, readBody, send, type RequestOptions } from '../../upstream/http.js';
import { openStream, type StreamOpening } from '../../upstream/stream-opening.js';

export interface AnthropicChannel {
  name: string;
  /** The server root, without `/v1` (`https://api.anthropic.com`, `https://gw.example.com/anthropic`). */
  baseUrl: string;
  /** Sent as `x-api-key`; none when blank. */
  key: string;
}

/** An upstream's 2xx answer as it came: status, content type, bytes. */
export interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** The client's Anthropic headers, forwarded with the call (null: not sent by the client). */
export interface ForwardedHeaders {
  version: string | null;
  beta: string | null;
}


/**
 * A client of one Anthropic-compatible upstream: `POST {baseUrl}/v1/messages` with the body as the
 * client sent it, the channel's key as `x-api-key`, and the client's `anthropic-version` (default
 * 2023-06-01) and `anthropic-beta`. Non-2xx answers throw their classified error
 * (worker/upstream/http.ts: 429 and 529 retried, honouring `retry-after`; other 4xx permanent, with
 * the upstream's body kept to relay); whether a 2xx is a success is judged by the caller
 * (judge.ts). `timeoutMs` is the idle timeout; `answerWaitMs` the longest wait for the headers of a
 * whole (non-stream) answer, which come only once the whole Message is generated. Both in ms.
 */
export function createAnthropicClient(channel: AnthropicChannel, timeoutMs: number, answerWaitMs = timeoutMs) {
  const url = (path: string) => `${channel.baseUrl}/v1/${path}`;
  const headers = (fwd: ForwardedHeaders, accept: string): Record<string, string> => ({
    ...(channel.key ? { 'x-api-key': channel.key } : {}),
    'anthropic-version': fwd.version ?? DEFAULT_ANTHROPIC_VERSION,
    ...(fwd.beta ? { 'anthropic-beta': fwd.beta } : {}),
    'content-type': 'application/json',
    accept,
  });

  return {
    channel,

    /** A whole answer: a 2xx resolves with its bytes; anything else throws a classified error. */
    async create(body: Buffer, fwd: ForwardedHeaders, signal?: AbortSignal): Promise<Answer> {
      const opts = { headers: headers(fwd, 'application/json'), body, timeoutMs, headersTimeoutMs: Math.max(timeoutMs, answerWaitMs), signal };
      const { res, idle } = await send(url('messages'), opts);
      const bytes = await readBody(res, opts, idle);
      checkStatus(res, bytes);
      return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/octet-stream', body: bytes };
    },

    /**
     * A `stream: true` request. A refusal (non-2xx) throws like `create`; a 2xx event stream yields
     * its events as they arrive (the idle timeout applies between pieces, never to the whole).
     */
    async stream(body: Buffer, fwd: ForwardedHeaders, signal: AbortSignal | undefined): Promise<StreamOpening> {
      return openStream(url('messages'), { headers: headers(fwd, 'text/event-stream'), body, timeoutMs, signal });
    },

    /** The model list (`GET {baseUrl}/v1/models`): a cheap call that tells whether the channel answers. */
    async models(): Promise<unknown> {
      const opts: RequestOptions = { method: 'GET', headers: headers({ version: null, beta: null }, 'application/json'), timeoutMs };
      const { res, idle } = await send(url('models'), opts);
      const bytes = await readBody(res, opts, idle);
      checkStatus(res, bytes);
      return bytes.length;
    },
  };
}

export type AnthropicClient = ReturnType<typeof createAnthropicClient>;
