import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { describe, expect, it } from 'vitest';
import { chunksOf, createAggregator, type Json } from '../../shared/families/openai/aggregate.js';

/** What the official SDK's own accumulator makes of the same chunks. */
async function sdkCompletion(chunks: Json[]): Promise<Json> {
  const bytes = new TextEncoder().encode(chunks.map((c) => `${JSON.stringify(c)}\n`).join(''));
  const readable = new ReadableStream({
    start(ctrl) {
      ctrl.enqueue(bytes);
      ctrl.close();
    },
  });
  const final = (await ChatCompletionStream.fromReadableStream(readable).finalChatCompletion()) as unknown as Json;
  // `parsed` belongs to the SDK's structured-output helper, not to the completion.
  for (const c of final.choices as Json[]) delete (c.message as Json).parsed;
  return final;
}

function ours(chunks: Json[], kind: 'chat' | 'text' = 'chat'): Json {
  const agg = createAggregator(kind);
  for (const c of chunks) agg.add(c);
  return agg.result();
}

const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-x', system_fingerprint: 'fp_1' };
const chunk = (choices: Json[], extra: Json = {}): Json => ({ ...head, choices, ...extra });

describe('stored completion from streamed chunks', () => {
  it('merges a tool call whose arguments arrive in three chunks into one call, as the SDK does', async () => {
    const chunks = [
      chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Tokyo"}' } }] }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }]),
    ];
    const stored = ours(chunks);
    const choice = (stored.choices as Json[])[0]!;
    expect((choice.message as Json).tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }]);
    expect(stored).toEqual(await sdkCompletion(chunks));
  });

  it('merges parallel tool calls and several choices by index, interleaved, with usage from the last chunk', async () => {
    const chunks = [
      chunk([{ index: 1, delta: { role: 'assistant', content: 'Bon' }, logprobs: null, finish_reason: null }], { usage: null }),
      chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{"x"' } }] }, logprobs: null, finish_reason: null }], { usage: null }),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 1, id: 'b', type: 'function', function: { name: 'g', arguments: '{}' } }] }, logprobs: null, finish_reason: null }], { usage: null }),
      chunk([{ index: 1, delta: { content: 'jour' }, logprobs: null, finish_reason: 'stop' }], { usage: null }),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, logprobs: null, finish_reason: 'tool_calls' }], { usage: null }),
      chunk([], { usage: { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 } }),
    ];
    const stored = ours(chunks);
    expect(stored).toEqual(await sdkCompletion(chunks));
    const [first, second] = stored.choices as Json[];
    expect((first!.message as Json).tool_calls).toEqual([
      { id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
      { id: 'b', type: 'function', function: { name: 'g', arguments: '{}' } },
    ]);
    expect((second!.message as Json).content).toBe('Bonjour');
    expect(stored.usage).toEqual({ prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 });
    expect(stored.system_fingerprint).toBe('fp_1');
  });

  it('keeps refusal, service_tier and the legacy function_call as the SDK does', async () => {
    const refusal = [
      chunk([{ index: 0, delta: { role: 'assistant', refusal: "I can't" }, logprobs: null, finish_reason: null }], { service_tier: 'default' }),
      chunk([{ index: 0, delta: { refusal: ' help.' }, logprobs: null, finish_reason: 'stop' }], { service_tier: 'default' }),
    ];
    const storedRefusal = ours(refusal);
    expect(storedRefusal).toEqual(await sdkCompletion(refusal));
    expect(storedRefusal).toMatchObject({ service_tier: 'default', choices: [{ message: { refusal: "I can't help.", content: null } }] });

    const legacy = [
      chunk([{ index: 0, delta: { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '' } }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { function_call: { arguments: '{"q":"a"}' } }, logprobs: null, finish_reason: 'function_call' }]),
    ];
    expect(ours(legacy)).toEqual(await sdkCompletion(legacy));
  });

  it('appends logprobs token by token, each once (the SDK doubles the first chunk\'s)', () => {
    const lp = (token: string) => ({ token, logprob: -0.1, bytes: null, top_logprobs: [] });
    const chunks = [
      chunk([{ index: 0, delta: { role: 'assistant', content: 'Hi' }, logprobs: { content: [lp('Hi')], refusal: null }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: ' there' }, logprobs: { content: [lp(' there')], refusal: null }, finish_reason: 'stop' }]),
    ];
    const before = JSON.stringify(chunks);
    const stored = ours(chunks);
    expect((stored.choices as Json[])[0]!.logprobs).toEqual({ content: [lp('Hi'), lp(' there')], refusal: null });
    // The chunks themselves are left as they came.
    expect(JSON.stringify(chunks)).toBe(before);
  });

  it('concatenates streamed reasoning deltas (where the SDK would keep only the last piece)', () => {
    const stored = ours([
      chunk([{ index: 0, delta: { role: 'assistant', content: '', reasoning_content: 'Let me ' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { reasoning_content: 'think.' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: '42' }, finish_reason: 'stop' }]),
    ]);
    expect((stored.choices as Json[])[0]!.message).toMatchObject({ role: 'assistant', content: '42', reasoning_content: 'Let me think.' });
  });

  it('keeps DeepSeek reasoning when content chunks carry "reasoning_content": null', () => {
    const chunks = [
      chunk([{ index: 0, delta: { role: 'assistant', content: null, reasoning_content: '' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: null, reasoning_content: 'Let me think. ' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: null, reasoning_content: '2+2 is 4.' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: '4', reasoning_content: null }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: '', reasoning_content: null }, finish_reason: 'stop' }], { usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } }),
    ];
    const stored = ours(chunks);
    expect((stored.choices as Json[])[0]!.message).toEqual({ role: 'assistant', content: '4', refusal: null, reasoning_content: 'Let me think. 2+2 is 4.' });
  });

  it('never lets a null erase a field: a message field, a choice field or a top-level one', () => {
    const stored = ours([
      chunk([{ index: 0, delta: { role: 'assistant', content: 'a', audio_id: 'x1' }, finish_reason: null, stop_reason: 'eos' }], { usage: { total_tokens: 3 }, service_tier: 'flex' }),
      chunk([{ index: 0, delta: { content: 'b', audio_id: null }, finish_reason: 'stop', stop_reason: null }], { usage: null, service_tier: null }),
    ]);
    expect(stored).toMatchObject({ usage: { total_tokens: 3 }, service_tier: 'flex', choices: [{ stop_reason: 'eos', message: { content: 'ab', audio_id: 'x1' } }] });
    // A field only ever sent as null stays null, as the upstream sent it.
    expect((ours([chunk([{ index: 0, delta: { role: 'assistant', content: 'x', reasoning: null, reasoning_details: null }, finish_reason: 'stop' }])]).choices as Json[])[0]!.message).toEqual({
      role: 'assistant',
      content: 'x',
      refusal: null,
      reasoning: null,
      reasoning_details: null,
    });
  });

  it('keeps OpenRouter reasoning and merges reasoning_details by index and type, as tool calls', () => {
    const or = { id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'deepseek/deepseek-r1', provider: 'DeepInfra' };
    const c = (delta: Json, finish: string | null = null) => ({ ...or, choices: [{ index: 0, delta: { role: 'assistant', ...delta }, finish_reason: finish }] });
    const text = (t: string, index = 0) => ({ type: 'reasoning.text', text: t, format: 'anthropic-claude-v1', index });
    const stored = ours([
      // Anthropic models through OpenRouter open with an empty text and signature.
      c({ content: '', reasoning: null, reasoning_details: [{ type: 'reasoning.text', text: '', signature: '', format: 'anthropic-claude-v1', index: 0 }] }),
      c({ content: '', reasoning: 'First, ', reasoning_details: [text('First, ')] }),
      c({ content: '', reasoning: 'add.', reasoning_details: [text('add.')] }),
      c({ content: '', reasoning: null, reasoning_details: [{ type: 'reasoning.text', text: '', signature: 'sig-1', format: 'anthropic-claude-v1', index: 0 }] }),
      c({ content: '', reasoning: null, reasoning_details: [{ type: 'reasoning.text', text: '', signature: '', index: 0 }] }),
      c({ content: '', reasoning: null, reasoning_details: [{ type: 'reasoning.encrypted', data: 'ZW5j', id: 'rs_1', format: 'anthropic-claude-v1', index: 1 }] }),
      c({ content: '4', reasoning: null, reasoning_details: [] }),
      c({ content: '', reasoning: null }, 'stop'),
    ]);
    const message = (stored.choices as Json[])[0]!.message as Json;
    expect(message).toMatchObject({ content: '4', reasoning: 'First, add.' });
    expect(message.reasoning_details).toEqual([
      { type: 'reasoning.text', text: 'First, add.', signature: 'sig-1', format: 'anthropic-claude-v1', index: 0 },
      { type: 'reasoning.encrypted', data: 'ZW5j', id: 'rs_1', format: 'anthropic-claude-v1', index: 1 },
    ]);
    expect(stored.provider).toBe('DeepInfra');
  });

  it('joins LiteLLM thinking_blocks until the piece with the signature ends a block', () => {
    const t = (blocks: Json[], content: string | null = null) => chunk([{ index: 0, delta: { content, thinking_blocks: blocks }, finish_reason: null }]);
    const stored = ours([
      t([{ type: 'thinking', thinking: '', signature: '' }]),
      t([{ type: 'thinking', thinking: 'Hmm, ', signature: null }]),
      t([{ type: 'thinking', thinking: 'four.', signature: null }]),
      t([{ type: 'thinking', thinking: '', signature: 'sig-a' }]),
      t([{ type: 'redacted_thinking', data: 'cmVk' }]),
      t([{ type: 'thinking', thinking: 'Again.', signature: 'sig-b' }], '4'),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
    ]);
    expect(((stored.choices as Json[])[0]!.message as Json).thinking_blocks).toEqual([
      { type: 'thinking', thinking: 'Hmm, four.', signature: 'sig-a' },
      { type: 'redacted_thinking', data: 'cmVk' },
      { type: 'thinking', thinking: 'Again.', signature: 'sig-b' },
    ]);
  });

  it('joins streamed audio: base64 data (padded pieces re-encoded) and transcript', () => {
    const a = (audio: Json, finish: string | null = null) => chunk([{ index: 0, delta: { audio }, finish_reason: finish }]);
    const pieces = ['Hello, ', 'audio', ' world'].map((p) => Buffer.from(p).toString('base64'));
    const stored = ours([
      chunk([{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }]),
      a({ id: 'audio_1', data: pieces[0], transcript: 'Hello' }),
      a({ data: pieces[1], transcript: ', world', expires_at: 1700003600 }),
      a({ data: pieces[2], transcript: null }, 'stop'),
    ]);
    const audio = ((stored.choices as Json[])[0]!.message as Json).audio as Json;
    expect(audio).toMatchObject({ id: 'audio_1', transcript: 'Hello, world', expires_at: 1700003600 });
    expect(Buffer.from(audio.data as string, 'base64').toString()).toBe('Hello, audio world');
  });

  it('turns a stored completion with reasoning into chunks that rebuild it', () => {
    const completion = {
      id: 'gen-2',
      object: 'chat.completion',
      created: 1,
      model: 'deepseek/deepseek-r1',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: '4', refusal: null, reasoning: 'First, add.', reasoning_content: 'First, add.', reasoning_details: [{ type: 'reasoning.text', text: 'First, add.', index: 0 }] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    };
    const chunks = chunksOf(completion, 'chat');
    expect(((chunks[0]!.choices as Json[])[0]!.delta as Json).reasoning_content).toBe('First, add.');
    expect(ours(chunks)).toEqual(completion);
  });

  it('turns a whole completion into chunks that rebuild the same completion', async () => {
    const completion = {
      id: 'chatcmpl-2',
      object: 'chat.completion',
      created: 1700000001,
      model: 'gpt-x',
      choices: [
        { index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }] }, logprobs: null, finish_reason: 'tool_calls' },
        { index: 1, message: { role: 'assistant', content: 'Hello', refusal: null }, logprobs: null, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    };
    const chunks = chunksOf(completion, 'chat');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && (c.choices as unknown[]).length === 1)).toBe(true);
    expect(ours(chunks)).toEqual(completion);
    expect(await sdkCompletion(chunks)).toEqual(completion);
  });

  it('merges streamed text completions by choice, logprobs appended', () => {
    const t = (index: number, text: string, finish: string | null, token?: string) => ({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1,
      model: 'm',
      choices: [{ index, text, finish_reason: finish, logprobs: token ? { tokens: [token], token_logprobs: [-1], top_logprobs: null, text_offset: [0] } : null }],
    });
    const stored = ours([t(0, 'Hel', null, 'Hel'), t(1, 'Bye', 'stop'), t(0, 'lo', 'length', 'lo')], 'text');
    expect(stored).toMatchObject({ object: 'text_completion', choices: [{ index: 0, text: 'Hello', finish_reason: 'length' }, { index: 1, text: 'Bye', finish_reason: 'stop' }] });
    expect(((stored.choices as Json[])[0]!.logprobs as Json).tokens).toEqual(['Hel', 'lo']);
  });

  it('turns a whole text completion into chunks that rebuild it', () => {
    const completion = { id: 'cmpl-2', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: ' Echo: hi', finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } };
    const chunks = chunksOf(completion, 'text');
    expect(chunks).toEqual([{ ...completion, object: 'text_completion' }]);
    expect(ours(chunks, 'text')).toEqual(completion);
  });

  it('knows when every choice finished', () => {
    const agg = createAggregator('chat');
    expect(agg.finished()).toBe(false);
    agg.add(chunk([{ index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: null }]));
    agg.add(chunk([{ index: 1, delta: { role: 'assistant', content: 'b' }, finish_reason: 'stop' }]));
    expect(agg.finished()).toBe(false);
    agg.add(chunk([{ index: 0, delta: {}, finish_reason: 'length' }]));
    expect(agg.finished()).toBe(true);
  });
});
