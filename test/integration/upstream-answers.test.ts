import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

/** What the upstream really sent decides success: 2xx errors, pages, broken and ignored streams. */
describe('upstream answers judged, through the openai SDK', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack();
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(async () => {
    s.sim.faults.clear();
    // A success resets the channel's count of failures in a row (a stream cut mid-way is one).
    await client.chat.completions.create(ask('healthy again'));
  });
  afterAll(() => s.close());

  const ask = (content: string) => ({ model: 'sim-chat', messages: [{ role: 'user' as const, content }] });
  const chatCalls = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
  const taskOf = async (res: Response | { headers: Headers }) => (await s.call('GET', `/v1/tasks/${res.headers.get('x-relayq-task-id')}`)).body;
  const latestTask = async () => (await s.call('GET', '/v1/tasks?limit=1')).body.data[0];
  const rejection = async (p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> =>
    p.then(
      () => new OpenAI.APIError(undefined, undefined, 'resolved instead of failing', undefined),
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
  const overloaded = { error: { message: 'upstream overloaded', type: 'server_error' } };
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  it('retries a 200 {"error": overloaded} and answers the completion that follows', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', body: overloaded, times: 1 });
    const { data, response } = await client.chat.completions.create(ask('busy now')).withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: busy now');
    expect((await taskOf(response)).attempts).toBe(2);
  });

  it('fails a call the upstream keeps answering 200 {"error": overloaded}, with the upstream message', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', body: overloaded });
    const err = await rejection(client.chat.completions.create(ask('still busy')));
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.message).toContain('upstream overloaded');
    const task = await latestTask();
    // The upstream's own type; the status it stands for apart.
    expect(task).toMatchObject({ status: 'failed', error: { type: 'server_error', code: null, status: 502 } });
    expect(task.attempts).toBeGreaterThan(1);
  });

  it('fails at once on a 200 {"error": invalid_request_error} as a 400 naming the upstream message', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', body: { error: { message: "Invalid value for 'temperature'", type: 'invalid_request_error', param: 'temperature', code: null } } });
    const before = chatCalls();
    const err = await rejection(client.chat.completions.create(ask('too hot')));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain("Invalid value for 'temperature'");
    expect(chatCalls()).toBe(before + 1);
  });

  it('ends a stream whose choices finished and whose usage came when the upstream then keeps the connection open in silence', async () => {
    const head = '"id":"c3","object":"chat.completion.chunk","created":1,"model":"sim-chat"';
    const parts = [
      { text: `data: {${head},"choices":[{"index":0,"delta":{"role":"assistant","content":"held"},"finish_reason":null}]}\n\n` },
      { text: `data: {${head},"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n` },
      // The usage the call asked for comes later than the quiet grace: the relay waits for it.
      { text: `data: {${head},"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n`, delayMs: 2500 },
      // Far past the test's own time limit: only the relay can end this stream.
      { text: 'data: [DONE]\n\n', delayMs: 60_000 },
    ];
    s.sim.faults.add({ route: 'openai', kind: 'body', contentType: 'text/event-stream', parts, times: 1 });
    const { data: stream, response } = await client.chat.completions.create({ ...ask('open end'), stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    let usage: unknown = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('held');
    expect(usage).toMatchObject({ total_tokens: 4 });
    expect(await taskOf(response)).toMatchObject({ status: 'succeeded', attempts: 1, output: { usage: { total_tokens: 4 } } });
  });

  it('fails a chat call answered 200 text/html (a proxy page), never replaying the page as a success', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', contentType: 'text/html; charset=utf-8', body: '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>hi</body></html>' });
    const err = await rejection(client.chat.completions.create(ask('hello')));
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.message).toContain('HTML page ("Welcome to nginx!")');
  });

  it('fails truncated JSON and JSON that is not a chat completion', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', body: '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis', times: 1 });
    expect((await rejection(client.chat.completions.create(ask('cut')))).message).toContain('not JSON');
    s.sim.faults.add({ route: 'openai', kind: 'body', body: { id: 'chatcmpl-1', object: 'chat.completion', model: 'sim-chat' }, times: 1 });
    expect((await rejection(client.chat.completions.create(ask('no choices')))).message).toContain('where a chat completion was expected');
  });

  it('fails speech answered 200 with a JSON error instead of audio', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'body', body: { error: { message: 'voice not available', type: 'invalid_request_error', param: 'voice' } } });
    const err = await rejection(client.audio.speech.create({ model: 'sim-tts', voice: 'alloy', input: 'hi' }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain('voice not available');
  });

  it('answers a non-stream call with the whole completion when the upstream streams anyway', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'stream', sse: true, times: 1 });
    const { data, response } = await client.chat.completions.create(ask('streamed anyway')).withResponse();
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(data).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'Echo: streamed anyway' }, finish_reason: 'stop' }] });
  });

  describe('stream: true', () => {
    const collect = async (stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) => {
      let text = '';
      let finish: string | null = null;
      for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      return { text, finish };
    };

    it('fails when the upstream answers 200 application/json with an error, and the error reaches the client', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'body', body: { error: { message: 'The model `nope` is not available', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } });
      const err = await rejection(client.chat.completions.create({ ...ask('x'), stream: true }));
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.message).toContain('The model `nope` is not available');
      expect(await latestTask()).toMatchObject({ status: 'failed', error: { message: 'The model `nope` is not available' } });
    });

    it('fails with the upstream message when an error comes as plain JSON labelled text/event-stream', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'body', contentType: 'text/event-stream', body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } } });
      const before = chatCalls();
      const err = await rejection(client.chat.completions.create({ ...ask('x'), stream: true }));
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.message).toContain('You exceeded your current quota');
      expect(chatCalls()).toBe(before + 1);
    });

    it('relays a whole chat.completion as chunks when the upstream ignored stream, and keeps it on the task', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'stream', json: true, times: 1 });
      const { data: stream, response } = await client.chat.completions.create({ ...ask('ignored stream'), stream: true }).withResponse();
      expect(await collect(stream)).toEqual({ text: 'Echo: ignored stream', finish: 'stop' });
      const task = await taskOf(response);
      expect(task).toMatchObject({ status: 'succeeded', output: { object: 'chat.completion', choices: [{ message: { content: 'Echo: ignored stream' } }] } });
      expect(task.output.usage.total_tokens).toBeGreaterThan(0);
    });

    it('relays a whole answer with a tool call as a stream the SDK rebuilds into the same tool call', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'stream', json: true, times: 1 });
      const final = await client.chat.completions.stream({ ...ask('weather? --sim-tool'), tools }).finalChatCompletion();
      expect(final.choices[0]!.message.tool_calls).toEqual([{ id: 'call_sim1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }]);
      expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    });

    it('stores a tool call streamed in three argument chunks as one call, as the SDK merges it', async () => {
      const runner = client.chat.completions.stream({ ...ask('weather in Tokyo? --sim-tool'), tools });
      const final = await runner.finalChatCompletion();
      const taskId = (await latestTask()).id;
      const task = (await s.call('GET', `/v1/tasks/${taskId}`)).body;
      expect(task.output.choices[0].message.tool_calls).toEqual([{ id: 'call_sim1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } }]);
      const { parsed: _parsed, ...sdkMessage } = final.choices[0]!.message as unknown as Record<string, unknown>;
      expect(task.output.choices[0].message).toEqual(sdkMessage);
    });

    it('ends with the upstream error when an error event comes mid-stream, and fails the task without retrying', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'stream', errorAfter: 2, asEvent: true, error: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } } });
      const before = chatCalls();
      const stream = await client.chat.completions.create({ ...ask('one two three four'), stream: true });
      const err = await rejection(collect(stream));
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.message).toContain('The server had an error while processing your request.');
      const task = await latestTask();
      expect(task).toMatchObject({ status: 'failed', attempts: 1, error: { message: 'The server had an error while processing your request.' } });
      expect(chatCalls()).toBe(before + 1);
    });

    it('fails on a data: {"error"} chunk mid-stream (OpenRouter sends finish_reason "error" with it)', async () => {
      const error = { id: 'gen-1', object: 'chat.completion.chunk', error: { code: 'server_error', message: 'Provider disconnected' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] };
      s.sim.faults.add({ route: 'openai', kind: 'stream', errorAfter: 1, error });
      const err = await rejection(collect(await client.chat.completions.create({ ...ask('alpha beta'), stream: true })));
      expect(err.message).toContain('Provider disconnected');
      expect(await latestTask()).toMatchObject({ status: 'failed' });
    });

    it('retries an error event that comes before any chunk and says the upstream is overloaded', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'stream', errorAfter: 0, asEvent: true, error: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, times: 1 });
      const { data: stream, response } = await client.chat.completions.create({ ...ask('after a hiccup'), stream: true }).withResponse();
      expect(await collect(stream)).toEqual({ text: 'Echo: after a hiccup', finish: 'stop' });
      expect((await taskOf(response)).attempts).toBe(2);
    });

    it('fails a stream that ends without finish_reason or [DONE] instead of passing it off as complete', async () => {
      s.sim.faults.add({ route: 'openai', kind: 'stream', endAfter: 2 });
      const stream = await client.chat.completions.create({ ...ask('cut short here please'), stream: true });
      const err = await rejection(collect(stream));
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.message).toContain('upstream stream ended before it finished');
      expect(await latestTask()).toMatchObject({ status: 'failed', error: { message: 'upstream stream ended before it finished' } });
    });

    it('reads CR and CRLF framing, comments, multi-line data and data: without a space', async () => {
      const head = '"id":"c1","object":"chat.completion.chunk","created":1,"model":"sim-chat"';
      const body = [
        ': keep-alive\r\r',
        `data:{${head},"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\r\r`,
        ': OPENROUTER PROCESSING\r\n\r\n',
        `data: {${head},\ndata: "choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}\n\n`,
        `data: {${head},"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\r\n\r\n`,
        'data: [DONE]\r\n\r\n',
      ];
      s.sim.faults.add({ route: 'openai', kind: 'body', contentType: 'text/event-stream', parts: body.map((text) => ({ text, delayMs: 10 })), times: 1 });
      const { data: stream, response } = await client.chat.completions.create({ ...ask('framing'), stream: true }).withResponse();
      expect(await collect(stream)).toEqual({ text: 'Hello', finish: 'stop' });
      expect((await taskOf(response)).output.choices[0].message.content).toBe('Hello');
    });
  });
});

describe('upstream answer wait', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ env: { UPSTREAM_TIMEOUT_SECONDS: '1', SYNC_WAIT_SECONDS: '2', JOB_ATTEMPTS: '1' } });
  });
  afterAll(() => s.close());

  it('gives up on a whole answer that has not started after SYNC_WAIT_SECONDS', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'hang', times: 1 });
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'never' }] }, headers: { prefer: 'respond-async' } });
    const t = await waitFor(async () => {
      const task = (await s.call('GET', `/v1/tasks/${r.body.id}`)).body;
      return task.status === 'failed' ? task : null;
    });
    expect(t.error.message).toMatch(/nothing received for 2 s/);
    expect(t.completed_at - t.started_at).toBeGreaterThanOrEqual(1900);
  });
});

/** UPSTREAM_TIMEOUT_SECONDS is the longest silence allowed, never a cap on an answer that flows. */
describe('upstream idle timeout', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ env: { UPSTREAM_TIMEOUT_SECONDS: '1' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0, timeout: 20_000 });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  const ask = (content: string) => ({ model: 'sim-chat', messages: [{ role: 'user' as const, content }] });
  const latestTask = async () => (await s.call('GET', '/v1/tasks?limit=1')).body.data[0];

  it('relays a stream of one chunk every 400 ms for about 3 s whole', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'stream', chunks: 8, intervalMs: 400, times: 1 });
    const stream = await client.chat.completions.create({ ...ask('slow'), stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('t1 t2 t3 t4 t5 t6 t7 t8');
    expect(await latestTask()).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('reads a whole body that trickles in for about 3 s', async () => {
    const body = JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'sim-chat', choices: [{ index: 0, message: { role: 'assistant', content: 'slowly' }, finish_reason: 'stop' }] });
    const parts = Array.from({ length: 8 }, (_, i) => ({ text: body.slice((i * body.length) / 8, ((i + 1) * body.length) / 8), delayMs: 400 }));
    s.sim.faults.add({ route: 'openai', kind: 'body', parts, times: 1 });
    const r = await client.chat.completions.create(ask('trickle'));
    expect(r.choices[0]!.message.content).toBe('slowly');
  });

  it('retries a stream that stays silent for over a second before its first chunk', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'stream', stallAfter: 0, stallMs: 1500, times: 1 });
    const stream = await client.chat.completions.create({ ...ask('wake up'), stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Echo: wake up');
    expect(await latestTask()).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('fails a stream that goes silent for over a second after its first chunks, as a timeout', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'stream', stallAfter: 2, stallMs: 2500, times: 1 });
    const stream = await client.chat.completions.create({ ...ask('then silence falls'), stream: true });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('upstream timed out: nothing received for 1 s');
    expect(await latestTask()).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('keeps a stream whose choices all finished when the upstream then goes quiet instead of closing', async () => {
    const head = '"id":"c2","object":"chat.completion.chunk","created":1,"model":"sim-chat"';
    const parts = [
      { text: `data: {${head},"choices":[{"index":0,"delta":{"role":"assistant","content":"all"},"finish_reason":null}]}\n\n` },
      { text: `data: {${head},"choices":[{"index":0,"delta":{"content":" done"},"finish_reason":"stop"}]}\n\n`, delayMs: 100 },
      { text: 'data: [DONE]\n\n', delayMs: 3000 },
    ];
    s.sim.faults.add({ route: 'openai', kind: 'body', contentType: 'text/event-stream', parts, times: 1 });
    const stream = await client.chat.completions.create({ ...ask('quiet end'), stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('all done');
    expect(await latestTask()).toMatchObject({ status: 'succeeded', attempts: 1, output: { choices: [{ message: { content: 'all done' }, finish_reason: 'stop' }] } });
  });

  it('waits for a whole answer the upstream takes longer than the idle timeout to compute (an image, a reasoning model)', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const r = await client.chat.completions.create(ask('think hard'));
    expect(r.choices[0]!.message.content).toBe('Echo: think hard');
    expect(await latestTask()).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('still aborts at once on cancel while a body trickles in', async () => {
    const parts = Array.from({ length: 20 }, () => ({ text: ' ', delayMs: 300 }));
    s.sim.faults.add({ route: 'openai', kind: 'body', parts, times: 1 });
    const created = await s.call('POST', '/v1/chat/completions', { body: ask('cancel me'), headers: { prefer: 'respond-async' } });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${created.body.id}`)).body.status === 'running');
    const at = Date.now();
    await s.call('POST', `/v1/tasks/${created.body.id}/cancel`);
    const done = await waitFor(async () => {
      const t = (await s.call('GET', `/v1/tasks/${created.body.id}`)).body;
      return t.status === 'canceled' ? t : null;
    });
    expect(Date.now() - at).toBeLessThan(1000);
    expect(done.attempts).toBe(1);
  });
});
