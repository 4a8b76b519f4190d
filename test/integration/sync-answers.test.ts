import net from 'node:net';
import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../api/main.js';
import { createLogger } from '../../shared/logger.js';
import { client, KEYS, PNG, startStack, waitFor, type Stack } from '../support/stack.js';

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
const chat = (content: string) => ({ model: 'sim-chat', messages: [{ role: 'user' as const, content }] });
const chatStream = (content: string) => ({ ...chat(content), stream: true as const });

/** Reads an OpenAI-style SSE answer with fetch: the data lines, and whether it ended with [DONE]. */
async function readStream(res: Response, stopAfter = Infinity): Promise<{ data: any[]; done: boolean; errors: any[] }> {
  const out = { data: [] as any[], done: false, errors: [] as any[] };
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let sep: number;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, sep).replace(/^data: /, '');
      buf = buf.slice(sep + 2);
      if (line === '[DONE]') out.done = true;
      else {
        const j = JSON.parse(line);
        (j.error ? out.errors : out.data).push(j);
      }
      if (out.data.length >= stopAfter) return out;
    }
  }
  return out;
}
const textOf = (chunks: any[]) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

describe('sync calls never get a task object in place of the answer', () => {
  let s: Stack;
  const calls = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
  beforeAll(async () => {
    s = await startStack({ env: { SYNC_WAIT_SECONDS: '1' } });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());
  const sdk = (maxRetries: number) => new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries });

  it('answers a slow non-stream call past SYNC_WAIT_SECONDS with a retryable error naming the task', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const err = (await sdk(0)
      .chat.completions.create(chat('slow one'))
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(504);
    const taskId = err.headers?.get('x-relayq-task-id');
    expect(taskId).toMatch(/^text_/);
    expect(err.message).toContain(taskId);
    expect(err.headers?.get('x-should-retry')).toBe('true');
    expect(err.headers?.get('location')).toBe(`/v1/tasks/${taskId}`);
    // The task goes on and finishes: nothing was lost.
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${taskId}`)).body.status === 'succeeded');
  });

  it('lets the SDK retry of a slow non-stream call join the task: the completion, one upstream call', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const before = calls();
    const { data, response } = await sdk(2).chat.completions.create(chat('slow but joined')).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toBe('Echo: slow but joined');
    expect(response.headers.get('x-relayq-task-id')).toMatch(/^text_/);
    expect(calls()).toBe(before + 1);
  });

  it('lets the SDK retry of a slow multipart call join the task, though each try has its own boundary', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const edits = () => s.sim.requests.filter((r) => r.path === '/v1/images/edits' && r.method === 'POST').length;
    const before = edits();
    const image = () => toFile(Buffer.from(PNG.split(',')[1]!, 'base64'), 'cat.png', { type: 'image/png' });
    const r = await sdk(2).images.edit({ image: [await image(), await image()], prompt: 'joined edit' });
    expect(r.data?.[0]?.revised_prompt).toMatch(/^joined edit/);
    expect(edits()).toBe(before + 1);
  });

  it('answers a stream whose first chunk comes after the wait with a retryable error, and the SDK retry gets every chunk', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const err = await sdk(0)
      .chat.completions.create(chatStream('late stream'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);

    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const before = calls();
    const stream = await sdk(2).chat.completions.create(chatStream('late stream joined by the retry'));
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Echo: late stream joined by the retry');
    expect(calls()).toBe(before + 1);
  });

  it('replays a finished stream as chunks when its token stream has expired (Idempotency-Key a day later)', async () => {
    const headers = { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', 'idempotency-key': 'stream-replay-1' };
    const body = JSON.stringify(chatStream('replay me later'));
    const first = await readStream(await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers, body }));
    expect(first.done).toBe(true);
    const id = (await s.call('GET', '/v1/tasks?limit=1')).body.data[0].id;
    await s.redis.del(`${s.config.QUEUE_PREFIX}:{text}:tokens:${id}`);
    const res = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers, body });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-relayq-task-id')).toBe(id);
    const again = await readStream(res);
    expect(again.done).toBe(true);
    expect(textOf(again.data)).toBe('Echo: replay me later');
    expect(again.data.at(-1).choices[0].finish_reason).toBe('stop');
  });

  it('gives Prefer: wait the 202 task for streams and plain calls alike, with x-relayq-task-id', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500 });
    for (const body of [chat('opted in'), chatStream('opted in')]) {
      const r = await s.call('POST', '/v1/chat/completions', { body, headers: { prefer: 'wait=1' } });
      expect(r.status).toBe(202);
      expect(r.body.object).toBe('task');
      expect(r.headers.get('x-relayq-task-id')).toBe(r.body.id);
    }
    const r = await s.call('POST', '/v1/chat/completions', { body: chat('async'), headers: { prefer: 'respond-async' } });
    expect(r.status).toBe(202);
    expect(r.headers.get('x-relayq-task-id')).toBe(r.body.id);
  });

  it('joins only a retry of the same call by the same tenant, while its task has not failed', async () => {
    const raw = (key: string, content: string, retry: string) =>
      client(s.api.url)('POST', '/v1/chat/completions', { key, body: chat(content), headers: { 'x-stainless-retry-count': retry } });
    const first = await raw(KEYS.acme, 'join me', '0');
    const id = first.headers.get('x-relayq-task-id');
    expect((await raw(KEYS.acme, 'join me', '1')).headers.get('x-relayq-task-id')).toBe(id);
    // Not a retry (count 0), another body, another tenant: new tasks.
    expect((await raw(KEYS.acme, 'join me', '0')).headers.get('x-relayq-task-id')).not.toBe(id);
    expect((await raw(KEYS.acme, 'join me too', '1')).headers.get('x-relayq-task-id')).not.toBe(id);
    expect((await raw(KEYS.beta, 'join me', '1')).headers.get('x-relayq-task-id')).not.toBe(id);
    // A failed task is not joined: the retry calls the upstream again.
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: 'nope', type: 'invalid_request_error', param: null, code: null } } });
    const failed = await raw(KEYS.acme, 'fail then retry', '0');
    expect(failed.status).toBe(400);
    expect(failed.headers.get('x-should-retry')).toBe('false');
    const retried = await raw(KEYS.acme, 'fail then retry', '1');
    expect(retried.status).toBe(200);
    expect(retried.headers.get('x-relayq-task-id')).not.toBe(failed.headers.get('x-relayq-task-id'));
  });
});

describe('an API node shutting down', () => {
  let s: Stack;
  let node: RunningApi | null = null;
  const calls = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
  beforeAll(async () => {
    s = await startStack();
  });
  afterEach(async () => {
    s.sim.faults.clear();
    await node?.stop();
    node = null;
  });
  afterAll(() => s.close());
  const auth = { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' };
  const otherNode = async (graceSeconds: number) => (node = await startApi({ ...s.config, SHUTDOWN_GRACE_SECONDS: graceSeconds }, createLogger('silent')));

  it('keeps a stream going through its grace period and ends it with [DONE] when it finishes in time', async () => {
    const a = await otherNode(5);
    const res = await fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify(chatStream(`${words(8)} --sim-slow`)) });
    const reading = readStream(res);
    const stopped = a.stop();
    const out = await reading;
    await stopped;
    expect(out.errors).toEqual([]);
    expect(out.done).toBe(true);
    expect(textOf(out.data)).toBe(`Echo: ${words(8)}`);
  });

  it('ends a stream still running after the grace period with an error event, and a retry replays the whole answer from Redis', async () => {
    const a = await otherNode(1);
    const before = calls();
    const body = JSON.stringify(chatStream(`${words(30)} --sim-slow`));
    const res = await fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: auth, body });
    const taskId = res.headers.get('x-relayq-task-id');
    const reading = readStream(res);
    await waitFor(async () => (await s.redis.xlen(`${s.config.QUEUE_PREFIX}:{text}:tokens:${taskId}`)) > 2, { what: 'the stream to start' });
    const stopped = a.stop();
    const cut = await reading;
    await stopped;
    expect(cut.done).toBe(false);
    expect(cut.errors[0].error).toMatchObject({ type: 'service_unavailable', code: 'shutting_down' });
    expect(cut.errors[0].error.message).toContain(taskId);
    expect(textOf(cut.data).length).toBeLessThan(`Echo: ${words(30)}`.length);

    // The SDK's retry (to any other node) joins the task and gets every chunk from the first.
    const again = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'x-stainless-retry-count': '1' }, body });
    expect(again.headers.get('x-relayq-task-id')).toBe(taskId);
    const whole = await readStream(again);
    expect(whole.done).toBe(true);
    expect(textOf(whole.data)).toBe(`Echo: ${words(30)}`);
    expect(calls()).toBe(before + 1);
  });

  it('answers a sync wait cut by shutdown with a retryable 503 naming the task, and the retry gets the answer', async () => {
    const a = await otherNode(1);
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const before = calls();
    const body = JSON.stringify(chat('cut by shutdown'));
    const pending = fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: auth, body });
    await waitFor(async () => calls() === before + 1, { what: 'the upstream call' });
    const stopped = a.stop();
    const res = await pending;
    await stopped;
    expect(res.status).toBe(503);
    expect(res.headers.get('x-should-retry')).toBe('true');
    const taskId = res.headers.get('x-relayq-task-id');
    expect(((await res.json()) as any).error).toMatchObject({ type: 'service_unavailable', code: 'shutting_down', message: expect.stringContaining(taskId!) });
    const retry = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'x-stainless-retry-count': '1' }, body });
    expect(((await retry.json()) as any).choices[0].message.content).toBe('Echo: cut by shutdown');
    expect(calls()).toBe(before + 1);
  });

  it('refuses requests that arrive while closing with a retryable 503 in each family format', async () => {
    const a = await otherNode(5);
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 1000 });
    const before = calls();
    // Each socket carries a slow call, so it stays busy; a second request on it is written
    // once the close began.
    const sockets = ['/v1/tasks?limit=1', '/mj/task/list'].map((path) => busySocket(a.url, JSON.stringify(chat('in flight')), path));
    await waitFor(async () => calls() >= before + 2, { what: 'both calls upstream' });
    const stopped = a.stop();
    const [openai, mj] = (await Promise.all(sockets.map((x) => x.then((sock) => sock.second())))) as [string[], string[]];
    await stopped;
    expect(openai[0]).toMatch(/^HTTP\/1.1 200/);
    expect(openai[1]).toMatch(/^HTTP\/1.1 503/);
    expect(openai[1]).toMatch(/x-should-retry: true/i);
    expect(JSON.parse(openai[1]!.split('\r\n\r\n')[1]!).error.type).toBe('service_unavailable');
    expect(mj[1]).toMatch(/^HTTP\/1.1 503/);
    expect(JSON.parse(mj[1]!.split('\r\n\r\n')[1]!)).toMatchObject({ code: 9, result: null });
  });
});

/**
 * A connection busy with a chat call. `second()` writes `GET path` on it (to be read after the
 * call) and resolves with both raw answers once the server closes the connection.
 */
async function busySocket(base: string, body: string, path: string) {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  let raw = '';
  socket.on('data', (d: Buffer) => (raw += d.toString()));
  const closed = new Promise<string[]>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(raw.split(/(?=HTTP\/1\.1 )/)));
  });
  const auth = `Authorization: Bearer ${KEYS.acme}\r\n`;
  await new Promise<void>((resolve) =>
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => resolve()),
  );
  return {
    second() {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
      return closed;
    },
  };
}
