import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

type ApiError = InstanceType<typeof OpenAI.APIError>;

const rejection = async (p: Promise<unknown>): Promise<ApiError> =>
  p.then(
    () => new OpenAI.APIError(undefined, undefined, 'resolved instead of failing', undefined),
    (e: unknown) => e as ApiError,
  );
const ask = (content: string, model = 'sim-chat') => ({ model, messages: [{ role: 'user' as const, content }] });
const cloudflarePage = (status: number, title: string) =>
  `<!DOCTYPE html><html><head><title>api.example.com | ${status}: ${title}</title></head><body><h1>Error code ${status}</h1></body></html>`;

/** Upstream error statuses and bodies, as the official openai SDK (no retries of its own) sees them through relayq. */
describe('upstream errors through the openai SDK', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    // Two attempts: a failing case never adds up to the three failures in a row that open the circuit.
    s = await startStack({ env: { JOB_ATTEMPTS: '2' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(async () => {
    s.sim.faults.clear();
    // A success resets the channel's count of failures in a row.
    await client.chat.completions.create(ask('healthy again'));
  });
  afterAll(() => s.close());

  const chatCalls = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
  const latestTask = async () => (await s.call('GET', '/v1/tasks?limit=1')).body.data[0];

  it.each([
    [520, 'Web server is returning an unknown error'],
    [522, 'Connection timed out'],
    [524, 'A timeout occurred'],
    [529, 'Overloaded'],
  ])('retries an upstream %i (an HTML page) and answers the 200 that follows', async (status, title) => {
    s.sim.faults.add({ route: 'openai', kind: 'body', status, contentType: 'text/html; charset=UTF-8', body: cloudflarePage(status, title), times: 1 });
    const before = chatCalls();
    const { data, response } = await client.chat.completions.create(ask(`after a ${status}`)).withResponse();
    expect(data.choices[0]!.message.content).toBe(`Echo: after a ${status}`);
    expect(response.status).toBe(200);
    expect(chatCalls()).toBe(before + 2);
  });

  it('retries an Anthropic-style 529 overloaded_error JSON body', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 529, times: 1, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const r = await client.chat.completions.create(ask('overloaded once'));
    expect(r.choices[0]!.message.content).toBe('Echo: overloaded once');
  });

  it('names a Cloudflare page by its title when the upstream keeps answering it, with the status it sent', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', status: 524, contentType: 'text/html', body: cloudflarePage(524, 'A timeout occurred') });
    const err = await rejection(client.chat.completions.create(ask('always 524')));
    expect(err.status).toBe(524);
    expect(err.message).toContain('upstream answered 524: an HTML page ("api.example.com | 524: A timeout occurred")');
    expect(err.message).not.toContain('<html');
    expect(err.headers?.get('x-should-retry')).toBe('false');
  });

  it('fails at once on a 501 Not Implemented, which no retry can change', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 501, body: { error: { message: 'This endpoint is not implemented', type: 'not_implemented' } } });
    const before = chatCalls();
    const err = await rejection(client.chat.completions.create(ask('not here')));
    expect(err.status).toBe(501);
    expect(err.message).toContain('This endpoint is not implemented');
    expect(chatCalls()).toBe(before + 1);
  });

  it('fails at once on a 429 that says the quota is spent, keeping the upstream answer', async () => {
    const body = { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } };
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 429, body });
    const before = chatCalls();
    const err = await rejection(client.chat.completions.create(ask('no money')));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('insufficient_quota');
    expect(chatCalls()).toBe(before + 1);
  });

  it.each([
    ['context_length_exceeded', { message: "This model's maximum context length is 8192 tokens", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' }, 400],
    ['insufficient_quota', { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' }, 429],
    ['model_not_found', { message: 'The model `gpt-9` does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' }, 404],
  ] as const)('keeps the type, code and param of an error sent with HTTP 200 (%s), with the status it stands for', async (_, error, status) => {
    s.sim.faults.add({ route: 'openai', kind: 'body', body: { error }, times: 1 });
    const err = await rejection(client.chat.completions.create(ask('2xx error')));
    expect(err.status).toBe(status);
    expect({ type: err.type, code: err.code, param: err.param }).toEqual({ type: error.type, code: error.code, param: error.param });
    expect(err.message).toContain(error.message);
    const task = await latestTask();
    expect(task.error).toEqual({ type: error.type, code: error.code, param: error.param, status, message: error.message });
  });

  it('keeps the type and code of a retryable error relayq gave up on', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 503, body: { error: { message: 'That model is currently overloaded with other requests.', type: 'server_error', param: null, code: 'engine_overloaded' } } });
    const err = await rejection(client.chat.completions.create(ask('always busy')));
    expect(err.status).toBe(503);
    expect({ type: err.type, code: err.code }).toEqual({ type: 'server_error', code: 'engine_overloaded' });
    expect(err.message).toContain('That model is currently overloaded with other requests.');
    expect((await latestTask()).error).toMatchObject({ type: 'server_error', code: 'engine_overloaded', status: 503 });
  });

  it('keeps the code of an error chunk that ends a stream', async () => {
    const error = { id: 'gen-1', object: 'chat.completion.chunk', error: { code: 'server_error', message: 'Provider disconnected' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] };
    s.sim.faults.add({ route: 'openai', kind: 'stream', errorAfter: 1, error, times: 1 });
    const stream = await client.chat.completions.create({ ...ask('alpha beta gamma'), stream: true });
    const err = await rejection((async () => {
      for await (const _ of stream) void _;
    })());
    expect(err.message).toContain('Provider disconnected');
    expect(err.code).toBe('server_error');
  });
});

/** A Retry-After longer than relayq waits ends the call with the upstream's 429 at once. */
describe('a long Retry-After', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ env: { SYNC_WAIT_SECONDS: '5' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0, timeout: 20_000 });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  const chatCalls = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
  const tokensPerDay = {
    error: {
      message: 'Rate limit reached for model `llama-3` on tokens per day (TPD): Limit 500000, Used 499820. Please try again in 2m0s.',
      type: 'tokens',
      code: 'rate_limit_exceeded',
    },
  };

  it('waits out a short Retry-After and answers', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: 1, times: 1, body: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } } });
    const r = await client.chat.completions.create(ask('short wait'));
    expect(r.choices[0]!.message.content).toBe('Echo: short wait');
  });

  it('waits out the retryDelay a Gemini 429 names in its body (no Retry-After header) and answers', async () => {
    const body = [{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3.5s' }] } }];
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 429, times: 1, body });
    const at = Date.now();
    const r = await client.chat.completions.create(ask('gemini wait'));
    expect(r.choices[0]!.message.content).toBe('Echo: gemini wait');
    // Longer than the 2 s a 429 without any wait named cools its channel for.
    expect(Date.now() - at).toBeGreaterThanOrEqual(3500);
  });

  it("fails at once with the upstream's 429, its message, type and code when it asks for 120 s, and so does the next call while that channel cools down", async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: 120, times: 1, body: tokensPerDay });
    const before = chatCalls();
    const at = Date.now();
    const err = await rejection(client.chat.completions.create(ask('daily limit', 'llama-3')));
    expect(Date.now() - at).toBeLessThan(4000);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.message).toContain('Rate limit reached for model `llama-3` on tokens per day');
    expect(err.message).toContain('the upstream asks to wait 120 s');
    expect({ type: err.type, code: err.code }).toEqual({ type: 'tokens', code: 'rate_limit_exceeded' });
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(chatCalls()).toBe(before + 1);
    const task = (await s.call('GET', `/v1/tasks/${err.headers?.get('x-relayq-task-id')}`)).body;
    expect(task).toMatchObject({ status: 'failed', attempts: 1, error: { status: 429, code: 'rate_limit_exceeded' } });

    // The channel stays cooled down for the whole Retry-After: the next call fails at once too, without calling it.
    const next = await rejection(client.chat.completions.create(ask('and again', 'llama-3')));
    expect(next).toBeInstanceOf(OpenAI.RateLimitError);
    expect(next.code).toBe('rate_limit_exceeded');
    expect(next.message).toContain('cooling down after a 429');
    expect(chatCalls()).toBe(before + 1);
  });
});
