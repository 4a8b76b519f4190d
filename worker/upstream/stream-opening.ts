import { bodyChunks, checkStatus, readBody, send, type RequestOptions } from './http.js';
import { sseEvents, type SseEvent } from './sse.js';

/** A 2xx answer as it came: status, content type, bytes. */
export interface WholeAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/**
 * What a stream request got: the events of a `text/event-stream` answer as they arrive, with the
 * start of the body (`head`, to read an error sent there as plain JSON), or the whole body of any
 * other 2xx answer (an upstream that ignored `stream`, or sent its error as JSON).
 */
export type StreamOpening = { kind: 'events'; events: AsyncIterable<SseEvent>; head: () => string } | { kind: 'whole'; answer: WholeAnswer };

/** Bytes kept from the start of an event stream. */
const HEAD_BYTES = 4096;

/**
 * Sends a streaming request (any family's: OpenAI's chat, Anthropic's messages). A refusal
 * (non-2xx) throws the classified error of `checkStatus`; a 2xx that is not an event stream is
 * read whole; an event stream yields its events as they arrive, the idle timeout applying between
 * pieces, never to the whole.
 */
export async function openStream(url: string, opts: RequestOptions): Promise<StreamOpening> {
  const { res, idle } = await send(url, opts);
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
}
