import { describe, expect, it } from 'vitest';
import { createMessageAggregator, eventsOf, frameOf } from '../../shared/families/anthropic/message.js';
import { anthropicErrorType } from '../../shared/families/anthropic/errors.js';
import { createEventJudge, judgeMessage } from '../../worker/families/anthropic/judge.js';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { parseSse } from '../../worker/upstream/sse.js';

const merge = (events: Record<string, unknown>[]) => {
  const agg = createMessageAggregator();
  for (const e of events) agg.add(e);
  return agg.result();
};

/** A Message with every kind of block a stream carries in pieces, and one that comes whole. */
const message = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [
    { type: 'thinking', thinking: 'Let me think.', signature: 'EqQBCgIYAh' },
    { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va' },
    { type: 'text', text: 'Per the docs, it is sunny.', citations: [{ type: 'char_location', cited_text: 'sunny', document_index: 0, start_char_index: 0, end_char_index: 5 }] },
    { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Tokyo', days: [1, 2] } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
};

describe('Anthropic Messages streams', () => {
  it('turns a Message into stream events and merges them back into the same Message', () => {
    const events = eventsOf(message);
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      ...['content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop'],
      ...['content_block_start', 'content_block_stop'],
      ...['content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop'],
      ...['content_block_start', 'content_block_delta', 'content_block_stop'],
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]).toMatchObject({ message: { content: [], stop_reason: null } });
    expect(merge(events)).toEqual(message);
  });

  it('merges as the SDK does: tool input from its pieces (empty pieces keep {}), usage counters that are null never erase', () => {
    const merged = merge([
      { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 7 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'a', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_2', name: 'b', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"q": "a' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'b"}' } },
      { type: 'content_block_delta', index: 7, delta: { type: 'text_delta', text: 'for no block' } },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 9, cache_read_input_tokens: null, input_tokens: 13 } },
    ]);
    expect(merged.content).toEqual([
      { type: 'tool_use', id: 'toolu_1', name: 'a', input: {} },
      { type: 'tool_use', id: 'toolu_2', name: 'b', input: { q: 'ab' } },
    ]);
    expect(merged.usage).toEqual({ input_tokens: 13, output_tokens: 9, cache_read_input_tokens: 7 });
    expect(merged.stop_reason).toBe('tool_use');
  });

  it('frames an event with its event line', () => {
    expect(frameOf({ type: 'ping' })).toBe('event: ping\ndata: {"type":"ping"}');
  });

  it('judges an error event by its Anthropic type: overloaded and api errors retried, invalid requests not', () => {
    const judged = (type: string) => {
      try {
        createEventJudge().event({ event: 'error', data: JSON.stringify({ type: 'error', error: { details: null, type, message: 'x' } }) });
      } catch (err) {
        return err;
      }
      return null;
    };
    expect(judged('overloaded_error')).toMatchObject({ constructor: RetryableUpstreamError, status: 529 });
    expect(judged('api_error')).toMatchObject({ constructor: RetryableUpstreamError, status: 500 });
    expect(judged('rate_limit_error')).toMatchObject({ constructor: RetryableUpstreamError, status: 429 });
    expect(judged('invalid_request_error')).toMatchObject({ constructor: PermanentUpstreamError, status: 400 });
  });

  it('refuses events that are not Anthropic Messages events (an OpenAI chunk on /v1/messages)', () => {
    const judge = createEventJudge();
    expect(() => judge.event({ event: null, data: '{"id":"chatcmpl-1","choices":[{"delta":{"content":"hi"}}]}' })).toThrow(/not an Anthropic Messages event/);
  });

  it('reads a streamed answer to a plain request as one Message, and refuses one that stops early', () => {
    const body = eventsOf(message).map((e) => `${frameOf(e)}\n\n`).join('');
    const whole = judgeMessage({ status: 200, contentType: 'text/event-stream', body: Buffer.from(body) });
    expect(JSON.parse(whole.body.toString())).toEqual(message);
    const cut = eventsOf(message).slice(0, 3).map((e) => `${frameOf(e)}\n\n`).join('');
    expect(() => judgeMessage({ status: 200, contentType: 'text/event-stream', body: Buffer.from(cut) })).toThrow(/ended before message_stop/);
    expect(parseSse(cut)).toHaveLength(3);
  });

  it('types errors by status unless the type is already one of Anthropic’s', () => {
    expect(anthropicErrorType('overloaded_error', 503)).toBe('overloaded_error');
    expect(anthropicErrorType('upstream_error', 529)).toBe('overloaded_error');
    expect(anthropicErrorType(null, 413)).toBe('request_too_large');
    expect(anthropicErrorType('rate_limit_exceeded', 429)).toBe('rate_limit_error');
    expect(anthropicErrorType(null, 409)).toBe('conflict_error');
    expect(anthropicErrorType(null, 422)).toBe('invalid_request_error');
    expect(anthropicErrorType(null, 503)).toBe('api_error');
  });
});
