import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../api/main.js';
import { createLogger } from '../../shared/logger.js';
import { readSse } from '../support/sse.js';
import { client, KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'sim-chat', messages: [{ role: 'user', content }], ...extra });

describe('OpenAI tasks: async, waiting, events, cancel, idempotency', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ env: { SYNC_WAIT_SECONDS: '10', UPSTREAM_TIMEOUT_SECONDS: '30' } });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());
  const auth = { authorization: `Bearer ${KEYS.acme}` };

  it('answers 202 at once with Prefer: respond-async, and the task finishes', async () => {
    const r = await s.call('POST', '/v1/chat/completions', { body: chat('later please'), headers: { prefer: 'respond-async' } });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/tasks/${r.body.id}`);
    expect(r.body).toMatchObject({ object: 'task', kind: 'chat.completion', status: 'queued' });
    expect(r.body.id).toMatch(/^text_[0-9A-Za-z]{20}$/);
    const done = await waitFor(async () => {
      const t = (await s.call('GET', `/v1/tasks/${r.body.id}`)).body;
      return t.status === 'succeeded' ? t : null;
    });
    expect(done.output.choices[0].message.content).toBe('Echo: later please');
    expect(done.completed_at).toBeGreaterThanOrEqual(done.started_at);
  });

  it('answers 202 with the task when the result takes longer than Prefer: wait', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 2500, times: 1 });
    const started = Date.now();
    const r = await s.call('POST', '/v1/chat/completions', { body: chat('slow'), headers: { prefer: 'wait=1' } });
    expect(r.status).toBe(202);
    expect(Date.now() - started).toBeLessThan(2400);
    expect(r.body.status).toMatch(/queued|running/);
    expect(r.headers.get('location')).toBe(`/v1/tasks/${r.body.id}`);
  });

  it('streams task events over SSE and resumes after Last-Event-ID', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 300, times: 1 });
    const r = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'events' }, headers: { prefer: 'respond-async' } });
    const url = `${s.api.url}/v1/tasks/${r.body.id}/events`;
    const all = await readSse(url, auth, (e) => e.event === 'done');
    expect(all.filter((e) => e.event === 'status').map((e) => e.data.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(all.some((e) => e.event === 'output')).toBe(true);
    const done = all.at(-1)!;
    expect(done.data).toMatchObject({ id: r.body.id, status: 'succeeded', output: { object: 'list' } });
    // Reconnect after the first event: exactly the rest, same ids.
    const rest = await readSse(url, { ...auth, 'last-event-id': all[0]!.id! }, (e) => e.event === 'done');
    expect(rest.map((e) => `${e.id}:${e.event}`)).toEqual(all.filter((e) => e.id !== all[0]!.id).map((e) => `${e.id}:${e.event}`));
  });

  it('streams MJ task events too', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'events for mj' } });
    const all = await readSse(`${s.api.url}/v1/tasks/${r.body.result}/events`, auth, (e) => e.event === 'done');
    expect(all.some((e) => e.event === 'progress')).toBe(true);
    expect(all.at(-1)!.data.output.image_url).toMatch(/\.png$/);
  });

  it('cancels a running chat job from another API node: the upstream call is aborted, not retried', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'hang', times: 1 });
    const calls = () => s.sim.requests.filter((q) => q.path === '/v1/chat/completions').length;
    const before = calls();
    const r = await s.call('POST', '/v1/chat/completions', { body: chat('hang on'), headers: { prefer: 'respond-async' } });
    await waitFor(async () => calls() === before + 1 && (await s.call('GET', `/v1/tasks/${r.body.id}`)).body.status === 'running', { what: 'the job to be running' });
    const other = await startApi(s.config, createLogger('silent'));
    try {
      const c = await client(other.url)('POST', `/v1/tasks/${r.body.id}/cancel`);
      expect(c.status).toBe(200);
      expect(c.body).toMatchObject({ status: 'canceled', error: { type: 'canceled', message: 'canceled by client' } });
    } finally {
      await other.stop();
    }
    await waitFor(async () => (await s.redis.exists(`${s.config.QUEUE_PREFIX}:{text}:text:${r.body.id}`)) === 0, { what: 'the job to end' });
    expect(calls()).toBe(before + 1);
    const again = await s.call('POST', `/v1/tasks/${r.body.id}/cancel`);
    expect(again.status).toBe(409);
  });

  it('cancels a streaming chat mid-stream and ends the stream with an error event', async () => {
    const sdk = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    const { data: stream, response } = await sdk.chat.completions.create({ ...chat('one two three four five six seven eight nine ten --sim-slow'), stream: true } as never).withResponse();
    const id = response.headers.get('x-relayq-task-id')!;
    let text = '';
    const read = (async () => {
      for await (const c of stream as unknown as AsyncIterable<{ choices: { delta?: { content?: string } }[] }>) {
        text += c.choices[0]?.delta?.content ?? '';
        if (text.includes('three')) await s.call('POST', `/v1/tasks/${id}/cancel`);
      }
    })();
    await expect(read).rejects.toThrow(/canceled by client/);
    expect(text).not.toContain('ten');
  });

  it('shuts an API node down promptly while an events stream is open on it', async () => {
    const other = await startApi(s.config, createLogger('silent'));
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'forever --sim-stuck' } });
    let seen = 0;
    const reading = readSse(`${other.url}/v1/tasks/${r.body.result}/events`, auth, () => (seen++, false), 20_000);
    await waitFor(async () => seen > 0, { what: 'the first event' });
    const started = Date.now();
    await other.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await reading).length).toBeGreaterThan(0); // the server ended the stream
  });

  it('returns the first task for a repeated Idempotency-Key, per tenant', async () => {
    const headers = { 'idempotency-key': 'order-42', prefer: 'respond-async' };
    const first = await s.call('POST', '/v1/chat/completions', { body: chat('once'), headers });
    const second = await s.call('POST', '/v1/chat/completions', { body: chat('once'), headers });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const beta = await s.call('POST', '/v1/chat/completions', { key: KEYS.beta, body: chat('once'), headers });
    expect(beta.body.id).not.toBe(first.body.id);
    // Sync replay answers the first task's result.
    const sync = await s.call('POST', '/v1/chat/completions', { body: chat('once'), headers: { 'idempotency-key': 'order-42' } });
    expect(sync.status).toBe(200);
    expect(sync.body.choices[0].message.content).toBe('Echo: once');
    expect(sync.headers.get('x-relayq-task-id')).toBe(first.body.id);
    const list = (await s.call('GET', '/v1/tasks?kind=chat.completion&limit=100')).body.data.filter((t: { id: string }) => t.id === first.body.id);
    expect(list).toHaveLength(1);
  });

  it('honours Idempotency-Key on MJ submits', async () => {
    const headers = { 'idempotency-key': 'mj-1' };
    const a = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'idem' }, headers });
    const b = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'idem' }, headers });
    expect(b.body.result).toBe(a.body.result);
    expect(b.status).toBe(200);
  });

  it('refuses an Idempotency-Key that is not visible ASCII', async () => {
    const r = await s.call('POST', '/v1/chat/completions', { body: chat('x'), headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('Idempotency-Key');
  });
});

describe('task list, content and blobs', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ env: { TASK_RETENTION_SECONDS: '90' } });
  });
  afterAll(() => s.close());

  it('pages through the tenant tasks, newest first, with filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: `p${i}` }, headers: { prefer: 'respond-async' } })).body.id);
    const mj = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'in the list' } })).body.result;
    const page1 = (await s.call('GET', '/v1/tasks?limit=4')).body;
    expect(page1.data.map((t: { id: string }) => t.id)).toEqual([mj, ...ids.slice().reverse().slice(0, 3)]);
    expect(page1.has_more).toBe(true);
    const page2 = (await s.call('GET', `/v1/tasks?limit=4&after=${page1.last_id}`)).body;
    expect(page2.data.map((t: { id: string }) => t.id)).toEqual(ids.slice(0, 2).reverse());
    expect(page2.has_more).toBe(false);
    const onlyMj = (await s.call('GET', '/v1/tasks?kind=mj.imagine')).body;
    expect(onlyMj.data.map((t: { id: string }) => t.id)).toEqual([mj]);
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${ids[0]}`)).body.status === 'succeeded');
    const succeeded = (await s.call('GET', '/v1/tasks?status=succeeded&kind=embedding')).body;
    expect(succeeded.data.every((t: { status: string }) => t.status === 'succeeded')).toBe(true);
    expect((await s.call('GET', '/v1/tasks', { key: KEYS.beta })).body.data).toEqual([]);
    const bad = await s.call('GET', '/v1/tasks?status=done');
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('status');
  });

  it('keeps uploads and outputs in the blob store, with no expiry while running and the task TTL after', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 400, times: 1 });
    const r = await s.call('POST', '/v1/audio/speech', { body: { model: 'sim-tts', voice: 'alloy', input: 'keep me' }, headers: { prefer: 'respond-async' } });
    const blobs = `${s.config.QUEUE_PREFIX}:{audio}:blobs:${r.body.id}`;
    const task = `${s.config.QUEUE_PREFIX}:{audio}:task:${r.body.id}`;
    expect(await s.redis.ttl(blobs)).toBe(-1);
    const job = await s.redis.hget(`${s.config.QUEUE_PREFIX}:{audio}:audio:${r.body.id}`, 'data');
    expect(JSON.parse(job!)).toEqual({ taskId: r.body.id });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${r.body.id}`)).body.status === 'succeeded');
    expect(await s.redis.hexists(blobs, 'response')).toBe(1);
    const ttl = await s.redis.ttl(blobs);
    expect(ttl).toBeGreaterThan(80);
    expect(ttl).toBeLessThanOrEqual(90);
    expect(Math.abs((await s.redis.ttl(task)) - ttl)).toBeLessThanOrEqual(1);
    const content = await s.call('GET', `/v1/tasks/${r.body.id}/content`);
    expect(content.headers.get('content-type')).toBe('audio/mpeg');
  });

  it('answers 404 for content of a task that has none', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'no content yet --sim-stuck' } });
    const c = await s.call('GET', `/v1/tasks/${r.body.result}/content`);
    expect(c.status).toBe(404);
    expect(c.body.error.message).toMatch(/has no content/);
  });
});
