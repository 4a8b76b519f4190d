import { PermanentUpstreamError } from '../../shared/errors.js';
import { checkStatus, networkError, readBody, send } from './http.js';

export interface OpenAiChannel {
  name: string;
  /** Base URL including `/v1`. */
  baseUrl: string;
  key: string;
}

export interface UpstreamAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** A client of one OpenAI-compatible upstream: requests are forwarded as they came. */
export function createOpenAiClient(channel: OpenAiChannel, timeoutMs: number) {
  const headers = (json: boolean): Record<string, string> => ({
    ...(channel.key ? { authorization: `Bearer ${channel.key}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  });

  return {
    channel,

    /**
     * A whole answer: 2xx resolves with its bytes; anything else throws a classified error.
     * `contentType` is the client's, boundary included for multipart bodies forwarded as sent.
     */
    async call(endpoint: string, body: Buffer, signal?: AbortSignal, contentType = 'application/json'): Promise<UpstreamAnswer> {
      const opts = { headers: { ...headers(false), 'content-type': contentType }, body, timeoutMs, signal };
      const { res, timeout } = await send(`${channel.baseUrl}/${endpoint}`, opts);
      const bytes = await readBody(res, opts, timeout);
      checkStatus(res, bytes);
      return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/octet-stream', body: bytes };
    },

    /**
     * A server-sent-event answer: calls `onData` with each event's data, in order, until `[DONE]`.
     * A refusal before the stream starts throws like `call`.
     */
    async stream(endpoint: string, body: Buffer, signal: AbortSignal | undefined, onData: (data: string) => Promise<void>): Promise<void> {
      const opts = { headers: { ...headers(true), accept: 'text/event-stream' }, body, timeoutMs, signal };
      const { res, timeout } = await send(`${channel.baseUrl}/${endpoint}`, opts);
      if (!res.ok || !res.body) {
        checkStatus(res, await readBody(res, opts, timeout));
        throw new PermanentUpstreamError('upstream answered a stream request without a body', res.status);
      }
      const decoder = new TextDecoder();
      let buffer = '';
      let data: string[] = [];
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).replace(/\r$/, '');
            buffer = buffer.slice(nl + 1);
            if (line === '') {
              const event = data.join('\n');
              data = [];
              if (event === '[DONE]') return;
              if (event) await onData(event);
            } else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
        }
      } catch (err) {
        throw networkError(err, opts, timeout);
      }
      if (data.length && data.join('\n') !== '[DONE]') await onData(data.join('\n'));
    },

    async models(): Promise<UpstreamAnswer> {
      const opts = { method: 'GET' as const, headers: headers(false), timeoutMs };
      const { res, timeout } = await send(`${channel.baseUrl}/models`, opts);
      const bytes = await readBody(res, opts, timeout);
      checkStatus(res, bytes);
      return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/json', body: bytes };
    },
  };
}

export type OpenAiClient = ReturnType<typeof createOpenAiClient>;
