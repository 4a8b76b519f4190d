/** One server-sent event as read off the wire: `id`, `event` (default `message`) and the raw `data` text. */
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Reads server-sent events off a response body, one message per blank-line separated block;
 * comment lines (`: keep-alive`) are skipped, multi-line `data:` fields are joined with `\n`.
 * Ends when the body ends.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let sep: number;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const msg = parseBlock(block);
      if (msg) yield msg;
    }
  }
  const last = parseBlock(buf);
  if (last) yield last;
}

function parseBlock(block: string): SseMessage | null {
  let id: string | null = null;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 && id === null ? null : { id, event, data: data.join('\n') };
}
