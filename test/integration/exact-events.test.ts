import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { readSse } from '../support/sse.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

const auth = { authorization: `Bearer ${KEYS.acme}` };

describe('SSE task events are exact', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 600 } });
  });
  afterAll(() => s.close());

  it.each([
    ['an embedding', async () => (await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'exact' }, headers: { prefer: 'respond-async' } })).body.id],
    ['an MJ imagine', async () => (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'exact events' } })).body.result],
  ])('gives every event of %s its own id, and resuming after any of them gives exactly the rest', async (_what, submit) => {
    const id: string = await submit();
    const url = `${s.api.url}/v1/tasks/${id}/events`;
    const all = await readSse(url, auth, (e) => e.event === 'done');
    // The final change alone gives status, progress, output and done.
    expect(all.slice(-4).map((e) => e.event)).toEqual(['status', 'progress', 'output', 'done']);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    // Replays carry exactly what was sent live: the same ids, events and data.
    const exact = (list: typeof all) => list.map((e) => JSON.stringify([e.id, e.event, e.data]));
    expect(exact(await readSse(url, auth, (e) => e.event === 'done'))).toEqual(exact(all));
    for (let i = 0; i < all.length - 1; i++) {
      const rest = await readSse(url, { ...auth, 'last-event-id': all[i]!.id! }, (e) => e.event === 'done');
      expect(exact(rest)).toEqual(exact(all.slice(i + 1)));
    }
    // Progress comes as progress events; the output once, final, with the success.
    expect(all.filter((e) => e.event === 'output')).toHaveLength(1);
    expect(all.at(-1)!.data).toMatchObject({ id, status: 'succeeded' });
  });
});

describe('webhook bodies are fixed when the change happens', () => {
  let s: Stack;
  let rx: Receiver;
  beforeAll(async () => {
    s = await startStack({
      sim: { mjDurationMs: 400 },
      env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '300ms,300ms,300ms', WEBHOOK_POLL_MS: '20', PUBLIC_URL: 'https://relay.example.com' },
    });
  });
  afterEach(() => rx?.close());
  afterAll(() => s.close());

  it('sends task.started as the started task, with the same bytes on every retry, even after the task finished', async () => {
    rx = await startReceiver();
    rx.answer({ status: 500 }, { status: 500 });
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'fixed body' }] }, headers: { prefer: 'respond-async', 'x-webhook-url': rx.url } });
    await waitFor(async () => rx.received.some((x) => x.body?.type === 'task.succeeded'), { what: 'task.succeeded' });
    const started = rx.received.filter((x) => x.body.type === 'task.started');
    expect(started).toHaveLength(3);
    // The task had succeeded long before the last retry: the body still shows it as started.
    expect(new Set(started.map((x) => x.raw)).size).toBe(1);
    expect(new Set(started.map((x) => x.headers['webhook-id'])).size).toBe(1);
    expect(started[0]!.body.data).toMatchObject({ id: r.body.id, status: 'running', progress: 0, completed_at: null, output: null });
    expect(started[0]!.body.timestamp).toBe(new Date(started[0]!.body.timestamp).toISOString());
    const done = rx.received.at(-1)!.body;
    expect(done.data).toMatchObject({ status: 'succeeded', output: { object: 'chat.completion' } });
  });

  it('sends each MJ notifyHook callback as the task was at its change, SUBMITTED first', async () => {
    rx = await startReceiver();
    rx.answer({ status: 500 });
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'fixed mj body --sim-ms 600', notifyHook: rx.url } });
    await mjUntil(s.call, body.result, ['SUCCESS']);
    await waitFor(async () => rx.received.some((x) => x.body?.status === 'SUCCESS'), { what: 'the SUCCESS callback' });
    const [first, retry] = rx.received;
    expect(first!.body).toMatchObject({ id: body.result, status: 'SUBMITTED', progress: '0%', finishTime: null, imageUrl: null, buttons: [] });
    expect(retry!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(retry!.raw).toBe(first!.raw);
    // Each callback is the state of one change: progress never goes back, SUCCESS comes last.
    const progress = rx.received.map((x) => (x.body.status === 'SUCCESS' ? 100 : Number.parseInt(x.body.progress, 10)));
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(rx.received.at(-1)!.body).toMatchObject({ status: 'SUCCESS', progress: '100%' });
  });
});
