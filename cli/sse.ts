import { sseEvents } from '../shared/sse.js';

/** One server-sent event as read off the wire: `id`, `event` (default `message`) and the raw `data` text. */
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Reads server-sent events off a response body with the project's one event-stream parser
 * (shared/sse.ts: LF, CRLF or CR line ends, also split across chunks; comments skipped; `data`
 * lines joined with `\n`). Ends when the body ends.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  for await (const e of sseEvents(body as unknown as AsyncIterable<Uint8Array>)) yield { id: e.id ?? null, event: e.event ?? 'message', data: e.data };
}
