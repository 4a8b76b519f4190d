import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../api/main.js';
import { createLogger } from '../../shared/logger.js';
import { client, mjUntil, startStack, waitFor, type Stack, simMj } from '../support/stack.js';

describe('MJ cancel', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, sim: { mjDurationMs: 300 }, env: { UPSTREAM_TIMEOUT_SECONDS: '30' } });
  });
  afterAll(() => s.close());

  const jobKey = (id: string) => `${s.config.QUEUE_PREFIX}:{mj}:mj:${id}`;

  it('cancels a queued task: its job is removed and nothing reaches the upstream', async () => {
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'never sent' } });
    expect(await s.redis.exists(jobKey(body.result))).toBe(1);
    const r = await s.call('POST', `/mj/task/${body.result}/cancel`);
    expect(r.body).toMatchObject({ code: 1, result: body.result });
    const t = (await s.call('GET', `/mj/task/${body.result}/fetch`)).body;
    expect(t).toMatchObject({ status: 'CANCEL', failReason: 'canceled by client' });
    expect(t.finishTime).toBeGreaterThan(0);
    expect(await s.redis.exists(jobKey(body.result))).toBe(0);
    await s.startWorker();
    const later = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'sent after' } });
    await mjUntil(s.call, later.body.result, ['SUCCESS']);
    expect([...simMj(s.sim).tasks.values()].some((u) => u.prompt === 'never sent')).toBe(false);
    await s.stopWorkers();
  });

  it('cancels a running task upstream and stops following it', async () => {
    await s.startWorker();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'long job --sim-stuck' } });
    await mjUntil(s.call, body.result, ['SUBMITTED']);
    const r = await s.call('POST', `/v1/tasks/${body.result}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'canceled', error: { type: 'canceled', message: 'canceled by client' } });
    const upstream = [...simMj(s.sim).tasks.values()].find((u) => u.prompt === 'long job --sim-stuck')!;
    await waitFor(async () => upstream.canceled, { what: 'the upstream to be told' });
    expect(await s.redis.hexists(`${s.config.QUEUE_PREFIX}:{mj}:inflight`, body.result)).toBe(0);
    expect((await s.call('GET', `/mj/task/${body.result}/fetch`)).body.status).toBe('CANCEL');
    await s.stopWorkers();
  });

  it('aborts an upstream call in progress when canceled from another API node', async () => {
    await s.startWorker();
    s.sim.faults.add({ route: 'submit', kind: 'hang', times: 1 });
    const submitted = () => s.sim.requests.filter((q) => q.path === '/mj/submit/imagine').length;
    const before = submitted();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'hanging submit' } });
    await waitFor(async () => submitted() === before + 1, { what: 'the upstream to hold the submit' });
    const other = await startApi(s.config, createLogger('silent'));
    try {
      const r = await client(other.url)('POST', `/mj/task/${body.result}/cancel`);
      expect(r.body.code).toBe(1);
    } finally {
      await other.stop();
    }
    // The job ends (not retried): its key disappears once the worker returns.
    await waitFor(async () => (await s.redis.exists(jobKey(body.result))) === 0, { what: 'the job to end' });
    // One call, aborted; no retry.
    expect(submitted()).toBe(before + 1);
    expect((await s.call('GET', `/mj/task/${body.result}/fetch`)).body.status).toBe('CANCEL');
    await s.stopWorkers();
  });

  it('refuses to cancel a finished task with code 4 and HTTP 409', async () => {
    await s.startWorker();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'finished' } });
    await mjUntil(s.call, body.result, ['SUCCESS']);
    const r = await s.call('POST', `/mj/task/${body.result}/cancel`);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe(4);
    expect((await s.call('GET', `/mj/task/${body.result}/fetch`)).body.status).toBe('SUCCESS');
    await s.stopWorkers();
  });
});
