import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blockedReason } from '../../shared/ssrf.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

const chat = (content: string) => ({ model: 'sim-chat', messages: [{ role: 'user', content }] });

describe('webhooks', () => {
  let s: Stack;
  let rx: Receiver;
  let secret: string;
  beforeAll(async () => {
    s = await startStack({
      sim: { mjDurationMs: 300 },
      env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,300ms', WEBHOOK_POLL_MS: '20', WEBHOOK_TIMEOUT_MS: '500', PUBLIC_URL: 'https://relay.example.com' },
    });
    secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
  });
  afterEach(async () => {
    // Every delivery any test received carries a valid Standard Webhooks signature.
    for (const r of rx?.received ?? []) verify(r);
    await rx?.close();
  });
  afterAll(() => s.close());

  const verify = (r: { raw: string; headers: Record<string, unknown> }, key = secret) =>
    new Webhook(key).verify(r.raw, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
  const asyncChat = (content: string, headers: Record<string, string>) => s.call('POST', '/v1/chat/completions', { body: chat(content), headers: { prefer: 'respond-async', ...headers } });
  const deliveries = async (id: string) => (await s.call('GET', `/v1/tasks/${id}/deliveries`)).body.data as any[];
  /**
   * Waits until nothing more will be delivered for a finished task: it left the due set and no
   * event is in flight (a late delivery would have to come from one of those).
   */
  const settled = async (id: string) => {
    const tag = id.startsWith('mj') ? '{mj}' : '{text}';
    await waitFor(
      async () =>
        (await s.redis.zscore(`${s.config.QUEUE_PREFIX}:${tag}:webhook-due`, id)) === null &&
        ((await s.redis.hget(`${s.config.QUEUE_PREFIX}:${tag}:webhook:${id}`, 'head')) === null ||
          (await s.redis.hget(`${s.config.QUEUE_PREFIX}:${tag}:webhook:${id}`, 'stopped')) !== null) &&
        ['SUCCESS', 'FAILURE', 'succeeded', 'failed'].includes((await s.call('GET', `/v1/tasks/${id}`)).body.status),
      { what: `deliveries of ${id} to settle` },
    );
  };

  it('gives each tenant one stable whsec_ secret', async () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect((await s.call('GET', '/v1/webhooks/secret')).body.key).toBe(secret);
    expect((await s.call('GET', '/v1/webhooks/secret', { key: KEYS.beta })).body.key).not.toBe(secret);
  });

  it('posts the MJ task object to notifyHook on every change, signed, with the final event last', async () => {
    rx = await startReceiver();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'hooked --sim-ms 1500', notifyHook: rx.url, state: 'st' } });
    await waitFor(async () => rx.received.some((r) => r.body?.status === 'SUCCESS'), { what: 'the SUCCESS callback' });
    await settled(body.result);
    for (const r of rx.received) expect(verify(r)).toMatchObject({ id: body.result, state: 'st' });
    const statuses = rx.received.map((r) => r.body.status);
    expect(statuses[0]).toBe('SUBMITTED');
    expect(statuses.at(-1)).toBe('SUCCESS');
    expect(statuses.filter((x) => x === 'SUCCESS')).toHaveLength(1);
    expect(statuses).toContain('IN_PROGRESS');
    // Progress is coalesced: at most one per 500 ms over a 1.5 s job.
    expect(statuses.filter((x) => x === 'IN_PROGRESS').length).toBeLessThanOrEqual(4);
    expect(rx.received.at(-1)!.body.buttons).toHaveLength(9);
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(rx.received.length);
  });

  it('posts {type, timestamp, data} for X-Webhook-Url, started then succeeded', async () => {
    rx = await startReceiver();
    const r = await asyncChat('hook me', { 'x-webhook-url': rx.url });
    await waitFor(async () => rx.received.some((x) => x.body?.type === 'task.succeeded'), { what: 'task.succeeded' });
    const types = rx.received.map((x) => verify(x) && x.body.type);
    expect(types).toEqual(['task.started', 'task.succeeded']);
    const done = rx.received.at(-1)!.body;
    expect(new Date(done.timestamp).getTime()).toBeGreaterThan(0);
    expect(done.data).toMatchObject({ id: r.body.id, object: 'task', status: 'succeeded', output: { object: 'chat.completion' } });
    expect(done.data.urls.get).toBe(`https://relay.example.com/v1/tasks/${r.body.id}`);
    expect(rx.received[0]!.body.data.status).toBe('running');
  });

  it('reports an upstream refusal as started then failed, nothing in between', async () => {
    rx = await startReceiver();
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } } });
    const r = await asyncChat('refused', { 'x-webhook-url': rx.url });
    await waitFor(async () => rx.received.some((x) => x.body?.type === 'task.failed'), { what: 'task.failed' });
    await settled(r.body.id);
    expect(rx.received.map((x) => x.body.type)).toEqual(['task.started', 'task.failed']);
    expect(rx.received[1]!.body.data).toMatchObject({ id: r.body.id, status: 'failed', error: { message: 'bad temperature' } });
    // The refusal is written with the failure: no extra change for a webhook to race with.
    const changes = await s.redis.lrange(`${s.config.QUEUE_PREFIX}:{text}:events:${r.body.id}`, 0, -1);
    expect(changes.map((line) => (JSON.parse(line) as string[])[1])).toEqual(['queued', 'running', 'failed']);
  });

  it('filters by X-Webhook-Events', async () => {
    rx = await startReceiver();
    const r = await asyncChat('only the end', { 'x-webhook-url': rx.url, 'x-webhook-events': 'task.succeeded,failed' });
    await waitFor(async () => rx.received.length > 0);
    await waitFor(async () => (await deliveries(r.body.id)).length === 1);
    await settled(r.body.id);
    expect(rx.received.map((x) => x.body.type)).toEqual(['task.succeeded']);
  });

  it('retries a 500 with the same webhook-id until it is accepted, and shows every attempt', async () => {
    rx = await startReceiver();
    rx.answer({ status: 500 }, { status: 500 });
    const r = await asyncChat('flaky receiver', { 'x-webhook-url': rx.url, 'x-webhook-events': 'task.succeeded' });
    await waitFor(async () => rx.received.length === 3, { what: 'three attempts' });
    expect(new Set(rx.received.map((x) => x.headers['webhook-id'])).size).toBe(1);
    for (const x of rx.received) verify(x);
    const log = await waitFor(async () => {
      const d = await deliveries(r.body.id);
      return d.length === 3 ? d : null;
    });
    expect(log.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(log.map((d) => d.attempt)).toEqual([1, 2, 3]);
    expect(log[0].next_retry_at).toBeGreaterThan(log[0].at);
    expect(log[2].next_retry_at).toBeNull();
    expect(log.every((d) => d.event === 'task.succeeded' && d.webhook_id === rx.received[0]!.headers['webhook-id'])).toBe(true);
  });

  it('stops for good on 410', async () => {
    rx = await startReceiver();
    rx.always({ status: 410 });
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'gone --sim-ms 800', notifyHook: rx.url } });
    await mjUntil(s.call, body.result, ['SUCCESS']);
    await waitFor(async () => (await s.redis.hget(`${s.config.QUEUE_PREFIX}:{mj}:webhook:${body.result}`, 'stopped')) === 'gone', { what: 'deliveries to stop' });
    await settled(body.result);
    expect(rx.received).toHaveLength(1);
    const log = await deliveries(body.result);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ status: 410, next_retry_at: null });
    expect(log[0].error).toMatch(/410/);
  });

  it('times out a slow receiver and retries', async () => {
    rx = await startReceiver();
    rx.answer({ status: 200, delayMs: 2000 });
    const r = await asyncChat('slow receiver', { 'x-webhook-url': rx.url, 'x-webhook-events': 'succeeded' });
    await waitFor(async () => (await deliveries(r.body.id)).some((d) => d.status === 200), { what: 'the retry to land' });
    const log = await deliveries(r.body.id);
    expect(log[0].error).toMatch(/timed out/);
    expect(log[0].status).toBeNull();
    expect(rx.received[0]!.headers['webhook-id']).toBe(rx.received[1]!.headers['webhook-id']);
  });

  it('honours Retry-After', async () => {
    rx = await startReceiver();
    rx.answer({ status: 503, headers: { 'retry-after': '1' } });
    const r = await asyncChat('later', { 'x-webhook-url': rx.url, 'x-webhook-events': 'succeeded' });
    await waitFor(async () => rx.received.length === 2, { what: 'the retry' });
    expect(rx.received[1]!.at - rx.received[0]!.at).toBeGreaterThanOrEqual(950);
    expect((await deliveries(r.body.id))[0].next_retry_at - (await deliveries(r.body.id))[0].at).toBeGreaterThanOrEqual(1000);
  });

  it('never delivers a progress event after the final one, even while the receiver fails', async () => {
    rx = await startReceiver();
    rx.answer({ status: 500 }, { status: 500 }, { status: 500 });
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'ordered --sim-ms 1000', notifyHook: rx.url } });
    await mjUntil(s.call, body.result, ['SUCCESS']);
    await waitFor(async () => rx.received.some((r) => r.body?.status === 'SUCCESS'), { what: 'the final callback' });
    await settled(body.result);
    const accepted = rx.received.slice(3).map((r) => r.body.status);
    expect(accepted.at(-1)).toBe('SUCCESS');
    const finalAt = rx.received.findIndex((r) => r.body.status === 'SUCCESS');
    expect(rx.received.slice(finalAt + 1).every((r) => r.body.status === 'SUCCESS')).toBe(true);
  });

  it('refuses a bad X-Webhook-Url or X-Webhook-Events naming the header', async () => {
    for (const [headers, param] of [
      [{ 'x-webhook-url': 'ftp://example.com/x' }, 'X-Webhook-Url'],
      [{ 'x-webhook-url': 'https://example.com/x', 'x-webhook-events': 'task.exploded' }, 'X-Webhook-Events'],
      [{ 'x-webhook-events': 'task.succeeded' }, 'X-Webhook-Events'],
    ] as const) {
      const r = await asyncChat('bad hook', headers);
      expect(r.status).toBe(400);
      expect(r.body.error.param).toBe(param);
    }
  });
});

describe('webhook target guard', () => {
  let s: Stack;
  let rx: Receiver;
  const logs: string[] = [];
  beforeAll(async () => {
    s = await startStack({ env: { WEBHOOK_POLL_MS: '20', WEBHOOK_RETRY_SCHEDULE: '50ms' }, logLines: logs });
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx.close();
    await s.close();
  });

  const literal: [string, () => string][] = [
    ['loopback', () => rx.url],
    ['localhost', () => `http://localhost:${rx.port}/hook`],
    ['localhost with a trailing dot', () => `http://localhost.:${rx.port}/hook`],
    ['a subdomain of localhost', () => `http://api.localhost:${rx.port}/hook`],
    ['IPv6 loopback', () => `http://[::1]:${rx.port}/hook`],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${rx.port}/hook`],
    ['unspecified', () => `http://0.0.0.0:${rx.port}/hook`],
    ['10/8', () => 'http://10.1.2.3/hook'],
    ['172.16/12', () => 'http://172.20.0.1/hook'],
    ['192.168/16', () => 'http://192.168.1.10/hook'],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data'],
    ['carrier-grade NAT', () => 'http://100.100.100.200/hook'],
    ['IPv6 link-local', () => 'http://[fe80::1]/hook'],
    ['IPv6 unique-local', () => 'http://[fd00:ec2::254]/hook'],
    ['decimal IPv4 loopback', () => `http://2130706433:${rx.port}/hook`],
    ['short-form IPv4 loopback', () => `http://127.1:${rx.port}/hook`],
  ];

  it.each(literal)('refuses an X-Webhook-Url on %s at submit, naming WEBHOOK_ALLOW_PRIVATE', async (_what, url) => {
    const tasks = async () => (await s.keys()).filter((k) => k.includes(':task:')).length;
    const before = await tasks();
    const r = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'x' }, headers: { prefer: 'respond-async', 'x-webhook-url': url() } });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('X-Webhook-Url');
    expect(r.body.error.message).toMatch(/WEBHOOK_ALLOW_PRIVATE=true/);
    expect(await tasks()).toBe(before);
  });

  it.each(literal)('refuses a notifyHook on %s at submit with code 4', async (_what, url) => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a cat', notifyHook: url() } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(4);
    expect(r.body.description).toMatch(/^notifyHook: .*WEBHOOK_ALLOW_PRIVATE=true/);
  });

  // A name is only checked once resolved, at delivery: this machine's own host name resolves
  // to a loopback or private address on the machines the suite runs on.
  const host = hostname();
  const resolved = lookupSync(host);
  it.skipIf(!resolved || blockedReason(resolved) === null)('refuses a host name resolving to a private address once, records and logs it, never retries', async () => {
    const url = `http://${host}:${rx.port}/hook`;
    const r = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'x' }, headers: { prefer: 'respond-async', 'x-webhook-url': url } });
    expect(r.status).toBe(202);
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${r.body.id}/deliveries`)).body.data.length > 0, { what: 'the refusal' });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${r.body.id}`)).body.status === 'succeeded');
    // The final change would be due for delivery now: the pump must have given the task up.
    await waitFor(async () => (await s.redis.zscore(`${s.config.QUEUE_PREFIX}:{text}:webhook-due`, r.body.id)) === null, { what: 'the task to leave the due set' });
    const log = (await s.call('GET', `/v1/tasks/${r.body.id}/deliveries`)).body.data;
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ status: null, next_retry_at: null });
    expect(log[0].error).toMatch(/^target refused: /);
    expect(rx.received).toHaveLength(0);
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'webhook target refused' && l.taskId === r.body.id);
    expect(line).toMatchObject({ host, reason: expect.stringMatching(/resolves to .* (loopback|private)/) });
  });
});

/** The first address a host name resolves to (the OS resolver, as webhook delivery uses), or null. */
function lookupSync(host: string): string | null {
  const out = spawnSync(process.execPath, ['-e', `require('dns').lookup(${JSON.stringify(host)}, (e, a) => process.stdout.write(e ? '' : a))`], { encoding: 'utf8' });
  return out.stdout || null;
}
