/**
 * Builds the whole completion from streamed chunks, so a streaming task still stores its full
 * result: `chat.completion.chunk` → `chat.completion`, streamed `text_completion` → one object.
 */
interface ChunkChoice {
  index?: number;
  delta?: { role?: string; content?: string | null; tool_calls?: unknown[]; refusal?: string | null };
  text?: string;
  finish_reason?: string | null;
  logprobs?: unknown;
}

interface Chunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string;
  choices?: ChunkChoice[];
  usage?: unknown;
}

export function createAggregator() {
  let head: Chunk = {};
  let usage: unknown = null;
  const choices = new Map<number, { role: string; content: string; text: string; finish_reason: string | null; tool_calls: unknown[] }>();
  let chat = false;

  return {
    add(data: string) {
      let chunk: Chunk;
      try {
        chunk = JSON.parse(data) as Chunk;
      } catch {
        return;
      }
      if (!head.id) head = chunk;
      if (chunk.object === 'chat.completion.chunk') chat = true;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices ?? []) {
        const i = c.index ?? 0;
        const acc = choices.get(i) ?? { role: 'assistant', content: '', text: '', finish_reason: null, tool_calls: [] };
        if (c.delta?.role) acc.role = c.delta.role;
        if (c.delta?.content) acc.content += c.delta.content;
        if (c.delta?.tool_calls) acc.tool_calls.push(...c.delta.tool_calls);
        if (c.text) acc.text += c.text;
        if (c.finish_reason) acc.finish_reason = c.finish_reason;
        choices.set(i, acc);
      }
    },
    result(): Record<string, unknown> {
      const sorted = [...choices.entries()].sort(([a], [b]) => a - b);
      return {
        id: head.id ?? null,
        object: chat ? 'chat.completion' : 'text_completion',
        created: head.created ?? Math.floor(Date.now() / 1000),
        model: head.model ?? null,
        ...(head.system_fingerprint ? { system_fingerprint: head.system_fingerprint } : {}),
        choices: sorted.map(([index, c]) =>
          chat
            ? { index, message: { role: c.role, content: c.content, ...(c.tool_calls.length ? { tool_calls: c.tool_calls } : {}) }, finish_reason: c.finish_reason }
            : { index, text: c.text, finish_reason: c.finish_reason, logprobs: null },
        ),
        usage,
      };
    },
  };
}
