import Anthropic from '@anthropic-ai/sdk';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimAnthropic } from '../../sim/anthropic.js';
import { startReceiver } from '../support/receiver.js';
import { readSse } from '../support/sse.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'claude-sim', max_tokens: 256, messages: [{ role: 'user' as const, content }], ...extra });
const text = (m: { content: { type: string; text?: string }[] }) => m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

/** Messages calls as relayq tasks: async, waiting, joining, webhooks, events, cancel, tenancy, idempotency. */
describe('Anthropic message tasks', () => {
  let s: Stack;
  const calls = () => (s.sim.handles.anthropic as SimAnthropic).calls.length;
  const sdk = (maxRetries = 0, key = KEYS.acme) => new Anthropic({ baseURL: s.api.url, apiKey: key, maxRetries });
  const task = async (id: string | null, key = KEYS.acme) => (await s.call('GET', `/v1/tasks/${id}`, { key })).body;
  const until = (id: string, status: string) => waitFor(async () => ((await task(id)).status === status ? task(id) : null), { what: `task ${id} to be ${status}` });
  beforeAll(async () => {
    s = await startStack({ env: { SYNC_WAIT_SECONDS: '1', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' } });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  it('answers Prefer: respond-async with the 202 task at once; polling gives the Message as output', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'latency', ms: 300, times: 1 });
    const { data, response } = await sdk().messages.create(ask('later please'), { headers: { prefer: 'respond-async' } }).withResponse();
    const accepted = data as unknown as { id: string; object: string; kind: string; status: string };
    expect(response.status).toBe(202);
    expect(accepted).toMatchObject({ object: 'task', kind: 'anthropic.message', status: 'queued' });
    expect(response.headers.get('location')).toBe(`/v1/tasks/${accepted.id}`);
    const done = await until(accepted.id, 'succeeded');
    expect(done.output).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Echo: later please' }], stop_reason: 'end_turn' });
  });

  it('answers Prefer: wait=1 with the 202 task when the Message takes longer, for streams and plain calls alike', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'latency', ms: 2000, times: 2 });
    for (const body of [ask('opted in'), { ...ask('opted in'), stream: true }]) {
      const r = await s.call('POST', '/v1/messages', { body, headers: { prefer: 'wait=1' } });
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ object: 'task', kind: 'anthropic.message' });
    }
  });

  it('answers a plain call past SYNC_WAIT_SECONDS with a retryable timeout_error naming the task, and the SDK retry joins it', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'latency', ms: 2500, times: 1 });
    const err = (await sdk().messages.create(ask('slow one')).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.GatewayTimeoutError);
    const id = err.headers?.get('x-relayq-task-id');
    expect(err.requestID).toBe(id);
    expect(err.headers?.get('x-should-retry')).toBe('true');
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'timeout_error', message: expect.stringContaining(id!) }, request_id: id });
    await until(id!, 'succeeded');

    s.sim.faults.add({ route: 'anthropic', kind: 'latency', ms: 2500, times: 1 });
    const before = calls();
    expect(text(await sdk(2).messages.create(ask('slow but joined')))).toBe('Echo: slow but joined');
    expect(calls()).toBe(before + 1);
  });

  it('lets the SDK retry of a stream whose first event comes late join the task: every event, one upstream call', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'latency', ms: 2500, times: 1 });
    const before = calls();
    const final = await sdk(2).messages.stream(ask('late stream joined')).finalMessage();
    expect(text(final)).toBe('Echo: late stream joined');
    expect(calls()).toBe(before + 1);
  });

  it('returns the first task for a repeated Idempotency-Key, per tenant, and replays a stream whose events expired', async () => {
    const headers = { 'idempotency-key': 'msg-42' };
    const first = await sdk().messages.create({ ...ask('once'), stream: true }, { headers }).withResponse();
    for await (const _ of first.data) void _;
    const id = first.response.headers.get('x-relayq-task-id')!;
    const before = calls();
    await s.redis.del(`${s.config.QUEUE_PREFIX}:{anthropic}:tokens:${id}`);
    const { data, response } = await sdk().messages.stream(ask('once'), { headers }).withResponse();
    expect(response.headers.get('x-relayq-task-id')).toBe(id);
    expect(text(await data.finalMessage())).toBe('Echo: once');
    expect(calls()).toBe(before);
    const beta = await sdk(0, KEYS.beta).messages.create(ask('once'), { headers }).withResponse();
    expect(beta.response.headers.get('x-relayq-task-id')).not.toBe(id);
  });

  it('posts signed generic webhooks for a message task, the Message in the succeeded event', async () => {
    const rx = await startReceiver();
    try {
      const secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
      const r = await s.call('POST', '/v1/messages', { body: ask('hooked'), headers: { prefer: 'respond-async', 'x-webhook-url': rx.url } });
      await waitFor(async () => rx.received.some((x) => x.body?.type === 'task.succeeded'), { what: 'the task.succeeded webhook' });
      const hooks = rx.received.map((x) => new Webhook(secret).verify(x.raw, { 'webhook-id': String(x.headers['webhook-id']), 'webhook-timestamp': String(x.headers['webhook-timestamp']), 'webhook-signature': String(x.headers['webhook-signature']) }) as any);
      expect(hooks.map((h) => h.type)).toContain('task.started');
      expect(hooks.at(-1)).toMatchObject({ type: 'task.succeeded', data: { id: r.body.id, kind: 'anthropic.message', output: { content: [{ type: 'text', text: 'Echo: hooked' }] } } });
    } finally {
      await rx.close();
    }
  });

  it('streams task events over SSE for a message task', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'latency', ms: 300, times: 1 });
    const r = await s.call('POST', '/v1/messages', { body: ask('events'), headers: { prefer: 'respond-async' } });
    const all = await readSse(`${s.api.url}/v1/tasks/${r.body.id}/events`, { authorization: `Bearer ${KEYS.acme}` }, (e) => e.event === 'done');
    expect(all.filter((e) => e.event === 'status').map((e) => e.data.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(all.find((e) => e.event === 'output')!.data.output).toMatchObject({ type: 'message', content: [{ text: 'Echo: events' }] });
  });

  it('cancels a streamed message mid-stream: the SDK raises the error event, the task is canceled, the upstream not called again', async () => {
    const before = calls();
    const { data: stream, response } = await sdk().messages.create({ ...ask('one two three four five six seven eight nine ten --sim-slow'), stream: true }).withResponse();
    const id = response.headers.get('x-relayq-task-id')!;
    let said = '';
    const read = (async () => {
      for await (const e of stream) {
        if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') said += e.delta.text;
        if (said.includes('three')) await s.call('POST', `/v1/tasks/${id}/cancel`);
      }
    })();
    await expect(read).rejects.toThrow(/canceled by client/);
    expect(said).not.toContain('ten');
    expect((await task(id)).status).toBe('canceled');
    expect(calls()).toBe(before + 1);
  });

  it('cancels an async message task while the upstream works on it', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'hang', times: 1 });
    const before = calls();
    const r = await s.call('POST', '/v1/messages', { body: ask('hang on'), headers: { prefer: 'respond-async' } });
    await waitFor(async () => calls() === before + 1 && (await task(r.body.id)).status === 'running', { what: 'the call to be running' });
    const c = await s.call('POST', `/v1/tasks/${r.body.id}/cancel`);
    expect(c.body).toMatchObject({ status: 'canceled', error: { type: 'canceled' } });
    const again = await s.call('POST', `/v1/tasks/${r.body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(calls()).toBe(before + 1);
  });

  it('brings a channel that kept failing back through its model list probe, and the waiting task then succeeds', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status: 529, times: 3, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const r = await s.call('POST', '/v1/messages', { body: ask('after the outage'), headers: { prefer: 'respond-async' } });
    const done = await until(r.body.id, 'succeeded');
    expect(done.output.content[0].text).toBe('Echo: after the outage');
    expect(s.sim.requests.some((q) => q.method === 'GET' && q.path === '/anthropic/v1/models')).toBe(true);
  });

  it("keeps another tenant away from a message task: 404 on every route, never its data", async () => {
    const r = await s.call('POST', '/v1/messages', { body: ask('acme secret plan'), headers: { prefer: 'respond-async' } });
    await until(r.body.id, 'succeeded');
    for (const [method, path] of [['GET', `/v1/tasks/${r.body.id}`], ['POST', `/v1/tasks/${r.body.id}/cancel`], ['GET', `/v1/tasks/${r.body.id}/events`], ['GET', `/v1/tasks/${r.body.id}/content`]] as const) {
      const other = await s.call(method, path, { key: KEYS.beta });
      expect(other.status).toBe(404);
      expect(JSON.stringify(other.body)).not.toContain('secret plan');
    }
    expect((await s.call('GET', '/v1/tasks?kind=anthropic.message', { key: KEYS.beta })).body.data.map((t: { id: string }) => t.id)).not.toContain(r.body.id);
    expect((await s.call('GET', `/v1/tasks/${r.body.id}`, { key: KEYS.admin })).body.id).toBe(r.body.id);
  });
});
