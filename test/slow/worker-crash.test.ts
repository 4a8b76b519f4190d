import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killGroup, runRole, type Proc } from '../support/proc.js';
import { startReceiver } from '../support/receiver.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

/** Durable jobs and graceful shutdown with real worker processes: a killed worker's job is recovered, a drained one finishes. */
describe('worker processes', () => {
  let s: Stack;
  const procs: Proc[] = [];
  beforeAll(async () => {
    s = await startStack({ worker: false, sim: { mjDurationMs: 300 }, env: { WORKER_LOCK_MS: '1000', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' } });
  });
  afterAll(async () => {
    procs.forEach((p) => killGroup(p));
    await s.close();
  });

  const env = () => ({
    REDIS_URL: s.config.REDIS_URL,
    QUEUE_PREFIX: s.config.QUEUE_PREFIX,
    API_KEYS: `acme:${KEYS.acme}`,
    MJ_UPSTREAM_URL: s.sim.url,
    OPENAI_UPSTREAM_URL: `${s.sim.url}/v1`,
    OPENAI_UPSTREAM_KEY: 'sk-upstream-0123456789',
    MJ_POLL_INTERVAL_MS: '50',
    RETRY_BASE_DELAY_MS: '5',
    WORKER_LOCK_MS: '1000',
    LOG_LEVEL: 'info',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_POLL_MS: '20',
    WEBHOOK_TIMEOUT_MS: '20000',
  });
  const worker = (extra: Record<string, string> = {}) => {
    const p = runRole('worker/main.ts', { ...env(), ...extra });
    procs.push(p);
    return p;
  };
  const submits = () => s.sim.requests.filter((r) => r.path === '/mj/submit/imagine').length;

  it('recovers a job whose worker was SIGKILLed mid-call on another worker', async () => {
    s.sim.faults.add({ route: 'submit', kind: 'hang', times: 1 });
    const first = worker();
    await first.waitForOutput(/workers started/);
    const before = submits();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'outlives its worker' } });
    await waitFor(async () => submits() === before + 1, { what: 'the first worker to call upstream' });
    killGroup(first, 'SIGKILL');
    await first.exited;
    const second = worker();
    await second.waitForOutput(/workers started/);
    const done = await mjUntil(s.call, body.result, ['SUCCESS'], undefined, 20_000);
    expect(done.status).toBe('SUCCESS');
    killGroup(second, 'SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('fails a stream whose worker was SIGKILLed mid-stream instead of appending a second answer to it', async () => {
    const first = worker();
    await first.waitForOutput(/workers started/);
    const calls = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
    const before = calls();
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const res = await fetch(`${s.api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-chat', stream: true, messages: [{ role: 'user', content: `${words} --sim-slow` }] }),
    });
    const taskId = res.headers.get('x-relayq-task-id')!;
    const text = res.text();
    await waitFor(async () => (await s.redis.xlen(`${s.config.QUEUE_PREFIX}:{text}:tokens:${taskId}`)) > 3, { what: 'chunks to flow' });
    killGroup(first, 'SIGKILL');
    await first.exited;
    const second = worker();
    await second.waitForOutput(/workers started/);
    const raw = await text;
    const events = raw.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events.at(-1)!).error.message).toMatch(/cut after \d+ chunks when its worker stopped/);
    // Every relayed chunk is from the one upstream answer: no second call, no repeated words.
    const relayed = events.slice(0, -1).map((e) => JSON.parse(e).choices[0].delta.content ?? '').join('');
    expect(`Echo: ${words}`.startsWith(relayed)).toBe(true);
    expect(calls()).toBe(before + 1);
    expect((await s.call('GET', `/v1/tasks/${taskId}`)).body.status).toBe('failed');
    killGroup(second, 'SIGTERM');
    await second.exited;
  });

  it('exits when its grace period is over though a job still runs, and another worker finishes that job', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 4000, times: 1 });
    const first = worker({ SHUTDOWN_GRACE_SECONDS: '1' });
    await first.waitForOutput(/workers started/);
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'outlasts the grace' }] }, headers: { prefer: 'respond-async' } });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${r.body.id}`)).body.status === 'running', { what: 'the job to run' });
    const at = Date.now();
    killGroup(first, 'SIGTERM');
    expect(await first.exited).toBe(0);
    expect(Date.now() - at).toBeLessThan(4000);
    expect(first.out()).toMatch(/grace period over; leaving unfinished jobs to other workers/);
    const second = worker();
    await second.waitForOutput(/workers started/);
    const done = await waitFor(async () => {
      const t = (await s.call('GET', `/v1/tasks/${r.body.id}`)).body;
      return t.status === 'succeeded' ? t : null;
    }, { timeoutMs: 20_000 });
    expect(done.output.choices[0].message.content).toBe('Echo: outlasts the grace');
    killGroup(second, 'SIGTERM');
    await second.exited;
  });

  it('exits at once on a second signal', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 8000, times: 1 });
    const w = worker({ SHUTDOWN_GRACE_SECONDS: '30' });
    await w.waitForOutput(/workers started/);
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'impatient' }] }, headers: { prefer: 'respond-async' } });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${r.body.id}`)).body.status === 'running', { what: 'the job to run' });
    const at = Date.now();
    killGroup(w, 'SIGTERM');
    await w.waitForOutput(/shutting down/);
    // A second signal is one that comes later than the duplicates a terminal and npm send together.
    await waitFor(async () => Date.now() - at > 400, { what: 'a moment after the first signal' });
    killGroup(w, 'SIGTERM');
    expect(await w.exited).toBe(1);
    expect(Date.now() - at).toBeLessThan(3000);
    expect(w.out()).toMatch(/second signal: exiting now/);
  });

  it('finishes the job in hand on SIGTERM, then exits 0', async () => {
    s.sim.faults.add({ route: 'submit', kind: 'latency', ms: 1500, times: 1 });
    const w = worker({ SHUTDOWN_GRACE_SECONDS: '10' });
    await w.waitForOutput(/workers started/);
    const before = submits();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'finish me' } });
    await waitFor(async () => submits() === before + 1, { what: 'the worker to call upstream' });
    killGroup(w, 'SIGTERM');
    expect(await w.exited).toBe(0);
    // The submit completed before exit: the task is running upstream, not back in the queue.
    const t = (await s.call('GET', `/v1/tasks/${body.result}`)).body;
    expect(t.status).toBe('running');
    expect(submits()).toBe(before + 1);
  });

  it('delivers a webhook whose worker was SIGKILLed mid-delivery, again with the same webhook-id', async () => {
    const rx = await startReceiver();
    try {
      rx.answer('hang');
      const first = worker();
      await first.waitForOutput(/workers started/);
      const r = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'kill me' }, headers: { prefer: 'respond-async', 'x-webhook-url': rx.url, 'x-webhook-events': 'succeeded' } });
      await waitFor(async () => rx.received.length === 1, { what: 'the first delivery to hang' });
      killGroup(first, 'SIGKILL');
      await first.exited;
      const second = worker();
      await second.waitForOutput(/workers started/);
      await waitFor(async () => rx.received.length === 2, { timeoutMs: 20_000, what: 'the redelivery' });
      expect(rx.received[1]!.headers['webhook-id']).toBe(rx.received[0]!.headers['webhook-id']);
      expect(rx.received[1]!.body).toMatchObject({ type: 'task.succeeded', data: { id: r.body.id } });
      killGroup(second, 'SIGTERM');
      await second.exited;
    } finally {
      await rx.close();
    }
  });
});
