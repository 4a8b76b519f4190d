import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import type { SimAnthropic } from '../../sim/anthropic.js';
import { KEYS, startStack, type Stack } from '../support/stack.js';

const ask = (content: string) => ({ model: 'claude-sim', max_tokens: 256, messages: [{ role: 'user' as const, content }] });
const text = (m: Anthropic.Message) => m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

/** A stream as an upstream sends it, event by event; `named: false` leaves out the `event:` lines. */
function sse(events: Record<string, unknown>[], opts: { named?: boolean; tail?: string } = {}) {
  const parts = events.map((e) => ({ text: `${opts.named === false ? '' : `event: ${String(e.type)}\n`}data: ${JSON.stringify(e)}\n\n` }));
  return { kind: 'body' as const, route: 'anthropic', times: 1, contentType: 'text/event-stream', parts: opts.tail ? [...parts, { text: opts.tail }] : parts };
}
const start = { type: 'message_start', message: { id: 'msg_up', type: 'message', role: 'assistant', model: 'claude-sim', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } };
const hello = [
  start,
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' world' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } },
];
const stop = { type: 'message_stop' };

/** What Anthropic-compatible upstreams really answer, as the official SDK sees it through relayq. */
describe('Anthropic upstream answers', () => {
  let s: Stack;
  let sdk: Anthropic;
  const calls = () => (s.sim.handles.anthropic as SimAnthropic).calls.length;
  const stream = (content: string) => sdk.messages.stream(ask(content)).finalMessage();
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { JOB_ATTEMPTS: '2' } });
    // A second channel of the same upstream: a failure moves the call there.
    const first = s.config.channels.find((c) => c.type === 'anthropic')!;
    s.config.channels.push(defaultChannel({ name: 'sim-anthropic-2', type: 'anthropic', baseUrl: first.baseUrl, key: '' }));
    await s.startWorker();
    sdk = new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(async () => {
    s.sim.faults.clear();
    // Successes reset both channels' counts of failures in a row.
    await sdk.messages.create(ask('healthy again'));
    await sdk.messages.create(ask('healthy again'));
  });
  afterAll(() => s.close());

  it('names events an upstream sent without event: lines (the SDKs drop unnamed ones), and ignores a trailing [DONE]', async () => {
    s.sim.faults.add(sse([...hello, stop], { named: false, tail: 'data: [DONE]\n\n' }));
    const final = await stream('data only');
    expect(text(final)).toBe('Hello world');
    expect(final.usage).toMatchObject({ input_tokens: 3, output_tokens: 2 });
  });

  it('ends a stream whose connection closed after the stop reason with the message_stop it lost', async () => {
    s.sim.faults.add(sse(hello));
    const { data, response } = await sdk.messages.create({ ...ask('no stop'), stream: true }).withResponse();
    const types: string[] = [];
    for await (const e of data) types.push(e.type);
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect((await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body.status).toBe('succeeded');
  });

  it('ends a stream soon after the stop reason when the upstream then keeps the connection open without message_stop', async () => {
    // The last part comes far past the test's own time limit: only the relay can end this stream.
    const open = sse(hello);
    s.sim.faults.add({ ...open, parts: [...open.parts, { text: ': still here\n\n', delayMs: 60_000 }] });
    const { data, response } = await sdk.messages.create({ ...ask('open stop'), stream: true }).withResponse();
    const types: string[] = [];
    for await (const e of data) types.push(e.type);
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).toMatchObject({ body: { status: 'succeeded', output: { stop_reason: 'end_turn', content: [{ text: 'Hello world' }] } } });
  });

  it('calls again when a stream ends before any content, and fails a stream cut after content with an error event', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'stream', endAfter: 0, times: 1 });
    const before = calls();
    expect(text(await stream('cut early'))).toBe('Echo: cut early');
    expect(calls()).toBe(before + 2);
    s.sim.faults.add({ route: 'anthropic', kind: 'stream', endAfter: 2, times: 1 });
    const err = await stream('cut in the middle of it').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as Error).message).toContain('upstream stream ended before message_stop');
  });

  it('relays a JSON answer to a stream request as the events a stream carries, and a streamed answer to a plain request as one Message', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'stream', json: true, times: 1 });
    const types: string[] = [];
    const streamed = sdk.messages.stream(ask('json instead'));
    streamed.on('streamEvent', (e) => types.push(e.type));
    expect(text(await streamed.finalMessage())).toBe('Echo: json instead');
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    s.sim.faults.add({ route: 'anthropic', kind: 'stream', sse: true, times: 1 });
    const whole = await sdk.messages.create(ask('events instead'));
    expect(whole).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Echo: events instead' }], stop_reason: 'end_turn' });
  });

  it.each([
    ['a truncated JSON body', { kind: 'malformed' as const }, 'not JSON'],
    ['an HTML page', { kind: 'body' as const, contentType: 'text/html', body: '<html><head><title>502 Bad Gateway</title></head></html>' }, 'an HTML page ("502 Bad Gateway")'],
    ['JSON of another shape', { kind: 'body' as const, body: { id: 'chatcmpl-1', object: 'chat.completion', choices: [] } }, 'JSON of another shape'],
  ])('answers a 200 with %s by a 502 api_error, without retrying', async (_what, fault, message) => {
    s.sim.faults.add({ route: 'anthropic', times: 1, ...fault });
    const before = calls();
    const err = (await sdk.messages.create(ask('broken')).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining(message) } });
    expect(calls()).toBe(before + 1);
  });

  it('retries a 200 carrying an overloaded error body, as an upstream relay sends it', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'body', times: 1, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    expect(text(await sdk.messages.create(ask('busy body')))).toBe('Echo: busy body');
  });

  it('moves a call an overloaded channel refused to the other channel, and records both on the task', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status: 529, times: 1, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const { response } = await sdk.messages.create(ask('fail over')).withResponse();
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`, { key: KEYS.admin })).body;
    expect(task.attempts).toBe(1);
    expect(task.channel_attempts.map((a: { outcome: string; status: number | null }) => [a.outcome, a.status])).toEqual([
      ['moved', 529],
      ['succeeded', null],
    ]);
    expect(new Set(task.channel_attempts.map((a: { channel: string }) => a.channel)).size).toBe(2);
  });
});
