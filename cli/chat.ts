import { CliError, type Client } from './http.js';
import { readSse } from './sse.js';

/** A chat request of the command line: one user message, an optional system message. */
export interface ChatRequest {
  model: string;
  message: string;
  system: string | null;
}

interface Chunk {
  error?: { message?: string };
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null }; finish_reason?: string | null }[];
}

/**
 * Streams a chat answer (`POST /v1/chat/completions` with `stream: true`) to `out` token by
 * token, ending with a newline. Throws CliError when the stream carries an error event (the
 * task's error message) or stops before `[DONE]` or a `finish_reason`.
 */
export async function streamChat(client: Client, req: ChatRequest, out: NodeJS.WritableStream): Promise<void> {
  const messages = [...(req.system ? [{ role: 'system', content: req.system }] : []), { role: 'user', content: req.message }];
  const res = await client.request('POST', '/v1/chat/completions', { body: { model: req.model, messages, stream: true } });
  if (!res.body) throw new CliError('chat: the answer has no body');
  // Not a stream after all (a relay answering JSON): the whole message at once.
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const body = (await res.json()) as Chunk;
    out.write(`${body.choices?.[0]?.message?.content ?? ''}\n`);
    return;
  }
  let finished = false;
  let wrote = false;
  for await (const msg of readSse(res.body)) {
    if (msg.data === '[DONE]') {
      finished = true;
      break;
    }
    const chunk = JSON.parse(msg.data) as Chunk;
    if (chunk.error) {
      if (wrote) out.write('\n');
      throw new CliError(`chat failed: ${chunk.error.message ?? 'no reason given'}`);
    }
    for (const choice of chunk.choices ?? []) {
      const text = choice.delta?.content;
      if (text) {
        out.write(text);
        wrote = true;
      }
      if (choice.finish_reason) finished = true;
    }
  }
  out.write('\n');
  if (!finished) throw new CliError('chat: the answer stream ended before the model finished');
}
