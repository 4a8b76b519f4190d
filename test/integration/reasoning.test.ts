import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

type Json = Record<string, any>;

const sse = (...data: unknown[]) => data.map((d) => `data: ${typeof d === 'string' ? d : JSON.stringify(d)}\n\n`).join('');
const head = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'deepseek-reasoner' };
const delta = (d: Json, finish: string | null = null, extra: Json = {}) => ({ ...head, choices: [{ index: 0, delta: d, finish_reason: finish }], ...extra });

/** DeepSeek: reasoning deltas, then content deltas that carry `"reasoning_content": null`. */
const deepseek = sse(
  delta({ role: 'assistant', content: null, reasoning_content: '' }),
  delta({ content: null, reasoning_content: 'Let me think. ' }),
  delta({ content: null, reasoning_content: '2+2 is 4.' }),
  delta({ content: '4', reasoning_content: null }),
  delta({ content: '', reasoning_content: null }, 'stop', { usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } }),
  '[DONE]',
);

/** OpenRouter: `reasoning` and `reasoning_details` pieces, then content chunks with `"reasoning": null`. */
const openrouter = sse(
  delta({ role: 'assistant', content: '', reasoning: 'First, ', reasoning_details: [{ type: 'reasoning.text', text: 'First, ', index: 0 }] }),
  delta({ role: 'assistant', content: '', reasoning: 'add.', reasoning_details: [{ type: 'reasoning.text', text: 'add.', index: 0 }] }),
  delta({ role: 'assistant', content: '4', reasoning: null, reasoning_details: [] }),
  delta({ role: 'assistant', content: '', reasoning: null }, 'stop'),
  '[DONE]',
);

/** Reasoning text reaches the stored completion, the merged JSON answer and replayed chunks whole. */
describe('reasoning text through relayq', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack();
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  const ask = { model: 'deepseek-reasoner', messages: [{ role: 'user' as const, content: '2+2?' }] };
  const streamed = (body: string) => s.sim.faults.add({ route: 'openai', kind: 'body', contentType: 'text/event-stream', body, times: 1 });
  const taskOf = async (res: { headers: Headers }) => (await s.call('GET', `/v1/tasks/${res.headers.get('x-relayq-task-id')}`)).body;
  const collect = async (stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) => {
    let content = '';
    let reasoning = '';
    for await (const c of stream) {
      const d = c.choices[0]?.delta as Json | undefined;
      content += d?.content ?? '';
      reasoning += d?.reasoning_content ?? d?.reasoning ?? '';
    }
    return { content, reasoning };
  };

  it('stores the whole DeepSeek reasoning of a stream whose content chunks say "reasoning_content": null', async () => {
    streamed(deepseek);
    const { data: stream, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
    expect(await collect(stream)).toEqual({ content: '4', reasoning: 'Let me think. 2+2 is 4.' });
    const task = await taskOf(response);
    expect(task.output.choices[0].message).toEqual({ role: 'assistant', content: '4', refusal: null, reasoning_content: 'Let me think. 2+2 is 4.' });
  });

  it('answers a non-stream call with the whole reasoning when the upstream streams anyway', async () => {
    streamed(deepseek);
    const completion = (await client.chat.completions.create(ask)) as unknown as Json;
    expect(completion.choices[0].message).toMatchObject({ content: '4', reasoning_content: 'Let me think. 2+2 is 4.' });
  });

  it('stores OpenRouter reasoning and its reasoning_details merged by index', async () => {
    streamed(openrouter);
    const { data: stream, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
    expect(await collect(stream)).toEqual({ content: '4', reasoning: 'First, add.' });
    const message = (await taskOf(response)).output.choices[0].message;
    expect(message).toMatchObject({ content: '4', reasoning: 'First, add.', reasoning_details: [{ type: 'reasoning.text', text: 'First, add.', index: 0 }] });
    expect(message.reasoning_details).toHaveLength(1);
  });

  it('replays the stored reasoning as chunks once the token stream has expired', async () => {
    streamed(deepseek);
    const headers = { 'Idempotency-Key': 'reasoning-replay-1' };
    const { data: first, response } = await client.chat.completions.create({ ...ask, stream: true }, { headers }).withResponse();
    await collect(first);
    const id = response.headers.get('x-relayq-task-id')!;
    await s.redis.del(`${s.config.QUEUE_PREFIX}:{text}:tokens:${id}`);
    const { data: again, response: replayed } = await client.chat.completions.create({ ...ask, stream: true }, { headers }).withResponse();
    expect(replayed.headers.get('x-relayq-task-id')).toBe(id);
    expect(await collect(again)).toEqual({ content: '4', reasoning: 'Let me think. 2+2 is 4.' });
  });
});
