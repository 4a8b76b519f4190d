import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimAnthropic } from '../../sim/anthropic.js';
import { KEYS, startStack, type Stack } from '../support/stack.js';

const UPSTREAM_KEY = 'sk-ant-upstream-0123456789';
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'claude-sim', max_tokens: 256, messages: [{ role: 'user' as const, content }], ...extra });
const weather = [{ name: 'get_weather', description: 'Weather in a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
const text = (m: Anthropic.Message) => m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

/** The official `@anthropic-ai/sdk` pointed at relayq's root as its baseURL. */
describe('Anthropic messages through the official SDK', () => {
  let s: Stack;
  let sdk: Anthropic;
  const sim = () => s.sim.handles.anthropic as SimAnthropic;
  const calls = () => sim().calls.length;
  beforeAll(async () => {
    // Two attempts: a failing case never adds up to the three failures in a row that open the circuit.
    s = await startStack({ worker: false, sim: { anthropicKey: UPSTREAM_KEY }, env: { JOB_ATTEMPTS: '2' } });
    s.config.channels.find((c) => c.type === 'anthropic')!.key = UPSTREAM_KEY;
    await s.startWorker();
    // maxRetries 0: any retry seen here is relayq's own.
    sdk = new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  it('creates a message: the upstream Message as it answered, the body forwarded byte for byte with the channel key', async () => {
    const body = ask('hello there', { system: 'be brief', temperature: 0.5, metadata: { user_id: 'u-1' } });
    const { data, response } = await sdk.messages.create(body, { headers: { 'anthropic-beta': 'tools-2024-04-04' } }).withResponse();
    expect(data).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sim', stop_reason: 'end_turn', content: [{ type: 'text', text: 'Echo: hello there' }] });
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    const taskId = response.headers.get('x-relayq-task-id')!;
    expect(taskId).toMatch(/^anthropic_[0-9A-Za-z]{20}$/);
    expect(response.headers.get('request-id')).toBe(taskId);
    const seen = sim().calls.at(-1)!;
    expect(seen).toMatchObject({ apiKey: UPSTREAM_KEY, beta: 'tools-2024-04-04', body });
    expect(seen.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const task = (await s.call('GET', `/v1/tasks/${taskId}`)).body;
    expect(task).toMatchObject({ kind: 'anthropic.message', status: 'succeeded', attempts: 1, output: { id: data.id, content: data.content } });
  });

  it('streams a message event by event, named as Anthropic names them, and keeps the whole Message on the task', async () => {
    const { data: stream, response } = await sdk.messages.create({ ...ask('tell me a story'), stream: true }).withResponse();
    const types: string[] = [];
    let said = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') said += event.delta.text;
    }
    expect(said).toBe('Echo: tell me a story');
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(types).toContain('content_block_stop');
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body;
    expect(task.output).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Echo: tell me a story' }], stop_reason: 'end_turn' });
    expect(task.output.usage.output_tokens).toBe(5);
  });

  it('serves the messages.stream() helper: text events and finalMessage', async () => {
    const stream = sdk.messages.stream(ask('stream helper'));
    let said = '';
    stream.on('text', (t) => (said += t));
    const final = await stream.finalMessage();
    expect(said).toBe('Echo: stream helper');
    expect(text(final)).toBe('Echo: stream helper');
    expect(final.stop_reason).toBe('end_turn');
  });

  it('relays tool use, whole and streamed, with the tool input parsed from its pieces', async () => {
    const whole = await sdk.messages.create(ask('weather in Tokyo? --sim-tool', { tools: weather }));
    expect(whole.stop_reason).toBe('tool_use');
    expect(whole.content.find((b) => b.type === 'tool_use')).toMatchObject({ id: 'toolu_sim1', name: 'get_weather', input: { city: 'Tokyo' } });
    const streamed = await sdk.messages.stream(ask('weather in Tokyo? --sim-tool', { tools: weather })).finalMessage();
    expect(streamed.content).toEqual(whole.content);
    expect(streamed.stop_reason).toBe('tool_use');
  });

  it('relays thinking blocks with their signature, streamed', async () => {
    const stream = sdk.messages.stream(ask('think first', { max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 } }));
    let thought = '';
    stream.on('thinking', (t) => (thought += t));
    const final = await stream.finalMessage();
    expect(thought).toBe('Thinking about: think first');
    expect(final.content[0]).toMatchObject({ type: 'thinking', thinking: 'Thinking about: think first', signature: expect.stringMatching(/^sig_/) });
    expect(text(final)).toBe('Echo: think first');
  });

  it('accepts the key as x-api-key alone and as Authorization: Bearer', async () => {
    const viaHeader = new Anthropic({ baseURL: s.api.url, apiKey: null, defaultHeaders: { 'X-Api-Key': KEYS.acme }, maxRetries: 0 });
    expect(text(await viaHeader.messages.create(ask('by x-api-key')))).toBe('Echo: by x-api-key');
    const viaToken = new Anthropic({ baseURL: s.api.url, apiKey: null, authToken: KEYS.beta, maxRetries: 0 });
    const { response } = await viaToken.messages.create(ask('by bearer')).withResponse();
    const id = response.headers.get('x-relayq-task-id');
    expect((await s.call('GET', `/v1/tasks/${id}`, { key: KEYS.beta })).status).toBe(200);
    // A curl-style call with neither the SDK's headers nor anthropic-version: the default version goes upstream.
    const raw = await fetch(`${s.api.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEYS.acme, 'content-type': 'application/json' }, body: JSON.stringify(ask('curl style')) });
    expect(raw.status).toBe(200);
    expect(sim().calls.at(-1)!.version).toBe('2023-06-01');
  });

  it('refuses a missing or unknown key with a 401 in Anthropic format', async () => {
    const err = await new Anthropic({ baseURL: s.api.url, apiKey: 'sk-wrong-0123456789', maxRetries: 0 }).messages.create(ask('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'missing or unknown API key' } });
    const none = await s.call('POST', '/v1/messages', { key: null, body: ask('x') });
    expect(none.status).toBe(401);
    expect(none.body.error.type).toBe('authentication_error');
  });

  it.each([
    ['a missing max_tokens', { model: 'claude-sim', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens: Field required'],
    ['max_tokens as a string', { ...ask('x'), max_tokens: 'many' }, 'max_tokens: Input should be a valid integer'],
    ['a missing model', { max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }, 'model: Field required'],
    ['messages that are not a list', { ...ask('x'), messages: { role: 'user', content: 'x' } }, 'messages: Input should be a valid list'],
    ['no messages at all', { ...ask('x'), messages: [] }, 'messages: at least one message is required'],
    ['a message without content', { ...ask('x'), messages: [{ role: 'user' }] }, 'messages[0].content: Field required'],
    ['content of the wrong type', { ...ask('x'), messages: [{ role: 'user', content: 42 }] }, 'messages[0].content: Input should be a string or a list of content blocks'],
    ['a body that is a list', [ask('x')], 'body: Input should be a valid dictionary'],
  ])('refuses %s with a 400 naming the field, in Anthropic format', async (_what, body, message) => {
    const before = calls();
    const r = await s.call('POST', '/v1/messages', { body });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message } });
    expect(calls()).toBe(before);
  });

  it('refuses broken JSON with a 400, and unknown paths under /v1/messages with a 404, in Anthropic format', async () => {
    const broken = await s.call('POST', '/v1/messages', { body: '{"model": "claude-sim", ' });
    expect(broken.status).toBe(400);
    expect(broken.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'body: is not valid JSON' } });
    const err = await sdk.messages.batches.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it("passes the upstream's 400 on unchanged, once, and the SDK does not retry it", async () => {
    const refusal = { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sim' }, request_id: 'req_up_1' };
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status: 400, times: 1, body: refusal });
    const before = calls();
    const err = await new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 2 }).messages.create(ask('too long')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toEqual(refusal);
    expect(calls()).toBe(before + 1);
  });

  it('answers a stream request the upstream refused with a plain HTTP error, not an event stream', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status: 404, times: 1, body: { type: 'error', error: { type: 'not_found_error', message: 'model: claude-nope' } } });
    const err = await sdk.messages.create({ ...ask('x'), model: 'claude-nope', stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as Error).message).toContain('model: claude-nope');
  });

  it.each([
    [529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
    [429, { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } }],
    [500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } }],
  ])('retries an upstream %i and answers the 200 that follows', async (status, body) => {
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status, retryAfter: 0, times: 1, body });
    const before = calls();
    const { data, response } = await sdk.messages.create(ask(`after a ${status}`)).withResponse();
    expect(text(data)).toBe(`Echo: after a ${status}`);
    expect(calls()).toBe(before + 2);
    expect((await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body.attempts).toBe(2);
  });

  it('retries a stream whose upstream sends overloaded_error right after message_start: the client sees one clean stream', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'stream', errorAfter: 0, times: 1 });
    const before = calls();
    const final = await sdk.messages.stream(ask('overloaded once')).finalMessage();
    expect(text(final)).toBe('Echo: overloaded once');
    expect(calls()).toBe(before + 2);
  });

  it('ends a stream that fails after content with an error event the SDK raises, and fails the task', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'stream', errorAfter: 2, times: 1 });
    const before = calls();
    const { data: stream, response } = await sdk.messages.create({ ...ask('one two three four'), stream: true }).withResponse();
    let said = '';
    const read = (async () => {
      for await (const e of stream) if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') said += e.delta.text;
    })();
    await expect(read).rejects.toThrow(/Overloaded/);
    expect(said).toBe('Echo: one');
    expect(calls()).toBe(before + 1);
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body;
    expect(task).toMatchObject({ status: 'failed', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  it('gives up on an upstream that stays overloaded with a 529 in Anthropic format, never retried by the SDK', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status: 529, times: 2, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const before = calls();
    const err = await new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 2 }).messages.create(ask('always busy')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.OverloadedError);
    const e = err as InstanceType<typeof Anthropic.OverloadedError>;
    expect(e.status).toBe(529);
    expect(e.headers?.get('x-should-retry')).toBe('false');
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: expect.stringContaining('Overloaded') } });
    expect(calls()).toBe(before + 2);
  });
  it("counts tokens at once through the anthropic channel, with the channel key and the client's version and beta, creating no task", async () => {
    const before = (await s.call('GET', '/v1/tasks?limit=1')).body.data[0]?.id;
    const body = { model: 'claude-sim', messages: [{ role: 'user' as const, content: 'count these four words' }] };
    const counted = await sdk.messages.countTokens(body, { headers: { 'anthropic-beta': 'token-counting-2024-11-01' } });
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(sim().calls.at(-1)).toMatchObject({ apiKey: UPSTREAM_KEY, beta: 'token-counting-2024-11-01', body });
    expect((await s.call('GET', '/v1/tasks?limit=1')).body.data[0]?.id).toBe(before);
  });

  it("relays a count the upstream refused in Anthropic's format without the channel key, and a refused channel key as the relay's 502", async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'body', status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `messages.0: bad block (key ${UPSTREAM_KEY})` } }, times: 1 });
    const e = (await sdk.messages.countTokens({ model: 'claude-sim', messages: [{ role: 'user', content: 'x' }] }).catch((err: unknown) => err)) as InstanceType<typeof Anthropic.APIError>;
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'messages.0: bad block (key [redacted])' } });
    s.sim.faults.add({ route: 'anthropic', kind: 'body', status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }, times: 1 });
    const denied = (await sdk.messages.countTokens({ model: 'claude-sim', messages: [{ role: 'user', content: 'x' }] }).catch((err: unknown) => err)) as InstanceType<typeof Anthropic.APIError>;
    expect(denied.status).toBe(502);
    expect(denied.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('refused its key') } });
    const missing = await s.call('POST', '/v1/messages/count_tokens', { body: { model: 'claude-sim' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('messages') } });
  });
});
