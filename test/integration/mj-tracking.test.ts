import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mjUntil, startStack, waitFor, type Stack, simMj } from '../support/stack.js';

/** Following upstream work: batching, progress, failures and timeouts. */
describe('MJ tracker', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 300 }, env: { MJ_UPSTREAM_TIMEOUT_SECONDS: '1', MJ_POLL_INTERVAL_MS: '100' } });
  });
  afterAll(() => s.close());

  it('follows many tasks with one list-by-condition request per tick, never one per task', async () => {
    await s.startWorker(); // two worker processes' worth of trackers compete for each tick
    const first = s.sim.requests.length;
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await s.call('POST', '/mj/submit/imagine', { body: { prompt: `batch ${i} --sim-ms 1500` } })).body.result);
    for (const id of ids) await mjUntil(s.call, id, ['SUCCESS']);
    const elapsed = Date.now() - started;
    const seen = s.sim.requests.slice(first);
    const lists = seen.filter((r) => r.path.endsWith('/list-by-condition'));
    expect(seen.filter((r) => r.path.endsWith('/fetch'))).toHaveLength(0);
    // At most one poll per 100 ms tick across both trackers (plus slack for the edges).
    expect(lists.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 3);
    expect(Math.max(...lists.map((r) => r.ids ?? 0))).toBeGreaterThanOrEqual(15);
  });

  it('relays an upstream failure with its reason', async () => {
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'doomed --sim-fail' } });
    const done = await mjUntil(s.call, body.result, ['FAILURE']);
    expect(done).toMatchObject({ status: 'FAILURE', progress: '', failReason: '[Invalid parameter] Invalid value', buttons: [] });
    expect(done.finishTime).toBeGreaterThan(0);
    const generic = await s.call('GET', `/v1/tasks/${body.result}`);
    expect(generic.body.error).toMatchObject({ type: 'upstream_error', message: '[Invalid parameter] Invalid value' });
  });

  it('fails a task whose upstream makes no progress for MJ_UPSTREAM_TIMEOUT_SECONDS, and cancels it upstream', async () => {
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'frozen --sim-stuck' } });
    const done = await mjUntil(s.call, body.result, ['FAILURE'], undefined, 10_000);
    expect(done.failReason).toBe('upstream made no progress for 1 s');
    const upstream = [...simMj(s.sim).tasks.values()].find((t) => t.prompt === 'frozen --sim-stuck')!;
    await waitFor(async () => upstream.canceled, { what: 'upstream cancel' });
    expect(await s.redis.hexists(`${s.config.QUEUE_PREFIX}:{mj}:inflight`, body.result)).toBe(0);
  });

  it('fails a task the upstream stops reporting', async () => {
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'vanishing --sim-lost --sim-ms 200' } });
    const done = await mjUntil(s.call, body.result, ['FAILURE'], undefined, 10_000);
    expect(done.failReason).toMatch(/^upstream no longer reports this task/);
  });

  it('keeps tasks alive through failed polls', async () => {
    s.sim.faults.add({ route: 'list', kind: 'status', status: 500, times: 4 });
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'survives polls' } });
    await mjUntil(s.call, body.result, ['SUCCESS']);
  });
});

describe('MJ submit retries', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 200 }, env: { UPSTREAM_TIMEOUT_SECONDS: '1', JOB_ATTEMPTS: '4' } });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  // Tests here run one after another, so counting every imagine submit is exact.
  const submits = () => s.sim.requests.filter((r) => r.path === '/mj/submit/imagine').length;
  const run = async (prompt: string) => {
    const before = submits();
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt } });
    const done = await mjUntil(s.call, body.result, ['SUCCESS', 'FAILURE']);
    const generic = (await s.call('GET', `/v1/tasks/${body.result}`)).body;
    return { done, generic, calls: submits() - before };
  };

  it.each([
    ['429', { kind: 'status', status: 429, retryAfter: 0 }],
    ['503', { kind: 'status', status: 503 }],
    ['a connection reset', { kind: 'reset' }],
    ['a hang past the timeout', { kind: 'hang' }],
    ['code 23 (queue full)', { kind: 'code', code: 23 }],
    ['code 9 (system error)', { kind: 'code', code: 9 }],
  ] as const)('retries %s twice and then succeeds', async (_what, fault) => {
    s.sim.faults.add({ route: 'submit', times: 2, ...fault } as never);
    const { done, generic, calls } = await run(`retry ${_what}`);
    expect(done.status).toBe('SUCCESS');
    expect(calls).toBe(3);
    expect(generic.attempts).toBe(3);
  });

  it('honours Retry-After', async () => {
    s.sim.faults.add({ route: 'submit', kind: 'status', status: 429, retryAfter: 1, times: 1 });
    const from = s.sim.requests.length;
    const { done } = await run('patient');
    expect(done.status).toBe('SUCCESS');
    const times = s.sim.requests.slice(from).filter((r) => r.path === '/mj/submit/imagine').map((r) => r.at);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
  });

  it.each([
    ['a 400 with the upstream message', { kind: 'status', status: 400, body: { description: 'prompt has forbidden parameters' } }, 'prompt has forbidden parameters'],
    ['a malformed body', { kind: 'malformed' }, 'malformed upstream response (HTTP 200, not JSON)'],
    ['code 24 (banned prompt)', { kind: 'code', code: 24, description: 'banned word: gore' }, 'banned word: gore'],
    ['code 4 (refused)', { kind: 'code', code: 4, description: 'invalid parameter --foo' }, 'invalid parameter --foo'],
  ] as const)('fails at once on %s', async (_what, fault, reason) => {
    s.sim.faults.add({ route: 'submit', ...fault } as never);
    const { done, calls } = await run(`permanent ${_what}`);
    expect(done).toMatchObject({ status: 'FAILURE', failReason: reason });
    expect(calls).toBe(1);
  });

  it('gives up after JOB_ATTEMPTS with a reason a person can act on', async () => {
    s.sim.faults.add({ route: 'submit', kind: 'status', status: 502 });
    const { done, calls } = await run('never');
    expect(done.status).toBe('FAILURE');
    expect(done.failReason).toBe('upstream answered 502: simulated 502 (gave up after 4 attempts)');
    expect(calls).toBe(4);
  });
});

describe('worker slots', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ env: { MJ_CONCURRENCY: '1' } });
  });
  afterAll(() => s.close());

  it('are free while upstream work runs: one slot keeps five long MJ tasks in progress at once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await s.call('POST', '/mj/submit/imagine', { body: { prompt: `slow ${i} --sim-ms 4000` } })).body.result);
    await waitFor(
      async () => {
        const r = await s.call('POST', '/mj/task/list-by-condition', { body: { ids } });
        return r.body.length === 5 && r.body.every((t: { status: string }) => t.status === 'IN_PROGRESS');
      },
      { timeoutMs: 4000, what: 'all five tasks in progress together' },
    );
  });
});

describe('sharded queues', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ env: { QUEUE_SHARDS: '3', MJ_POLL_INTERVAL_MS: '100' } });
  });
  afterAll(() => s.close());

  it('spread tasks over the shards, each under its own hash tag, and poll each upstream once per tick', async () => {
    const first = s.sim.requests.length;
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push((await s.call('POST', '/mj/submit/imagine', { body: { prompt: `shard ${i} --sim-ms 800` } })).body.result);
    expect(new Set(ids.map((id) => id.split('_')[0]))).toEqual(new Set(['mj', 'mj1', 'mj2']));
    for (const id of ids) await mjUntil(s.call, id, ['SUCCESS']);
    const keys = await s.keys();
    for (const [shard, tag] of [['mj1', '{mj:1}'], ['mj2', '{mj:2}']] as const) {
      const id = ids.find((x) => x.startsWith(`${shard}_`))!;
      expect(keys).toContain(`${s.config.QUEUE_PREFIX}:${tag}:task:${id}`);
    }
    const lists = s.sim.requests.slice(first).filter((r) => r.path.endsWith('/list-by-condition'));
    expect(lists.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 100) + 3);
    expect(Math.max(...lists.map((r) => r.ids ?? 0))).toBeGreaterThanOrEqual(7);
    const page = (await s.call('GET', '/v1/tasks?limit=9')).body.data.map((t: { id: string }) => t.id);
    expect(page).toEqual([...ids].reverse());
  });
});
