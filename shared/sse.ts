/**
 * A server-sent-events reader following the WHATWG event-stream format: lines end with LF, CRLF
 * or CR; a blank line ends an event; `data` lines join with "\n"; one space after the colon is
 * dropped (`data:x` and `data: x` are the same); lines starting with ":" are comments (OpenRouter
 * sends `: OPENROUTER PROCESSING`, others `: keep-alive`); a leading byte-order mark is skipped.
 */
export interface SseEvent {
  /** The `event:` field; null when absent (a plain message). */
  event: string | null;
  data: string;
  /** The `id:` field the event carried, when it had one (to resume with `Last-Event-ID`). */
  id?: string;
}

export interface SseParser {
  /** Feeds text; returns the events it completed. */
  push(text: string): SseEvent[];
  /** The end of the stream: an event still open (no blank line after it) is returned too. */
  end(): SseEvent[];
}

/** An incremental parser: feed it decoded text in pieces of any size. */
export function createSseParser(): SseParser {
  let buffer = '';
  let first = true;
  let event: string | null = null;
  let data: string[] = [];
  let hasData = false;
  let id: string | undefined;

  function dispatch(out: SseEvent[]) {
    if (hasData) out.push(id === undefined ? { event, data: data.join('\n') } : { event, data: data.join('\n'), id });
    event = null;
    data = [];
    hasData = false;
    id = undefined;
  }

  function line(l: string, out: SseEvent[]) {
    if (l === '') return dispatch(out);
    if (l.startsWith(':')) return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data.push(value);
      hasData = true;
    } else if (field === 'event') event = value || null;
    else if (field === 'id' && !value.includes('\0')) id = value;
    // `retry` means nothing to a reader here; unknown fields are ignored by the format.
  }

  return {
    push(text) {
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      buffer += text;
      const out: SseEvent[] = [];
      // A CR at the very end may be the first half of a CRLF: keep it for the next piece.
      const re = /\r\n|\r(?!$)|\n/g;
      let start = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(buffer))) {
        line(buffer.slice(start, m.index), out);
        start = m.index + m[0].length;
      }
      buffer = buffer.slice(start);
      return out;
    },
    end() {
      const out: SseEvent[] = [];
      if (buffer !== '') line(buffer.replace(/\r$/, ''), out);
      buffer = '';
      dispatch(out);
      return out;
    },
  };
}

/** Every event of a stream of bytes, in order, the unterminated last one included. */
export async function* sseEvents(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const parser = createSseParser();
  for await (const chunk of chunks) yield* parser.push(decoder.decode(chunk, { stream: true }));
  yield* parser.push(decoder.decode());
  yield* parser.end();
}

/** Every event of a whole body. */
export function parseSse(text: string): SseEvent[] {
  const parser = createSseParser();
  return [...parser.push(text), ...parser.end()];
}

/** Whether a body that came without an event-stream content type still reads as one. */
export function looksLikeSse(text: string): boolean {
  return /^\uFEFF?(data|event|id|retry):|^\uFEFF?:/.test(text.trimStart());
}
