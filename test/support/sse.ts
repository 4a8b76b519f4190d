/** A minimal server-sent-events reader for tests: reads events until `until` says stop. */
export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

export async function readSse(url: string, headers: Record<string, string>, until: (e: SseEvent, all: SseEvent[]) => boolean, timeoutMs = 15_000): Promise<SseEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    if (!res.ok || !res.body) throw new Error(`SSE ${url}: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let sep: number;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const e: SseEvent = { event: 'message', data: null };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
        }
        if (block.startsWith(':')) continue;
        events.push(e);
        if (until(e, events)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
