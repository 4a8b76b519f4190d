import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runRole } from '../support/proc.js';
import { settle, startCluster, submitChats, workCalls, type Cluster } from '../support/cluster.js';
import { KEYS, mjUntil, waitFor } from '../support/stack.js';

const openai = (name: string, url: string, extra: object = {}) => ({ name, type: 'openai', baseUrl: `${url}/v1`, ...extra });

/** Upstream channels with whole worker processes: routing, shared limits, failover, health. */
describe('channels across worker processes', () => {
  let c: Cluster | null = null;
  afterEach(async () => {
    await c?.close();
    c = null;
  });

  it('follows the weights within ±10 % over 1,000 jobs on two workers', async () => {
    c = await startCluster({ sims: ['a', 'b', 'c'], channels: (u) => [openai('a', u.a!, { weight: 1 }), openai('b', u.b!, { weight: 1 }), openai('c', u.c!, { weight: 2 })] });
    const ids = await submitChats(c.call, 1000);
    const tasks = await settle(c, ids);
    expect(tasks.every((t) => t.status === 'succeeded')).toBe(true);
    const share = { a: workCalls(c.sims.a!).length, b: workCalls(c.sims.b!).length, c: workCalls(c.sims.c!).length };
    expect(share.a + share.b + share.c).toBe(1000);
    expect(Math.abs(share.a - 250)).toBeLessThanOrEqual(25);
    expect(Math.abs(share.b - 250)).toBeLessThanOrEqual(25);
    expect(Math.abs(share.c - 500)).toBeLessThanOrEqual(50);
    // Both workers took part.
    expect(c.workers.every((w) => /"kind":"text.request"/.test(w.out()) || w.out().length > 0)).toBe(true);
  });

  it('never exceeds concurrency: 3 on one channel across both workers', async () => {
    c = await startCluster({ sims: ['a'], channels: (u) => [openai('a', u.a!, { concurrency: 3 })] });
    c.sims.a!.faults.add({ route: 'openai', kind: 'latency', ms: 150 });
    const ids = await submitChats(c.call, 40);
    const tasks = await settle(c, ids);
    expect(tasks.every((t) => t.status === 'succeeded')).toBe(true);
    expect(c.sims.a!.load.maxInFlight).toBe(3);
    // Waiting for a slot used no attempt.
    expect(tasks.every((t) => t.attempts === 1)).toBe(true);
  });

  it('holds rpm across both workers: the calls past the limit wait, queued, without using attempts', async () => {
    c = await startCluster({ sims: ['a'], channels: (u) => [openai('a', u.a!, { rpm: 10 })] });
    const ids = await submitChats(c.call, 14);
    await waitFor(async () => workCalls(c!.sims.a!).length === 10, { what: 'the first ten calls' });
    // The rest wait for the 60 s window: for a good while nothing more reaches the upstream.
    const waiting = await waitFor(
      async () => {
        const tasks = await Promise.all(ids.map(async (id) => (await c!.call('GET', `/v1/tasks/${id}`)).body));
        return tasks.filter((t) => t.status === 'succeeded').length === 10 ? tasks.filter((t) => t.status !== 'succeeded') : null;
      },
      { what: 'ten tasks done' },
    );
    expect(waiting).toHaveLength(4);
    expect(waiting.every((t) => t.status === 'queued' && t.attempts === 0)).toBe(true);
    const admin = (await c.call('GET', '/admin/channels', { key: KEYS.admin })).body.data[0];
    expect(admin).toMatchObject({ name: 'a', rpm_used: 10, limits: { rpm: 10 } });
    expect(workCalls(c.sims.a!)).toHaveLength(10);
  });

  it('moves the jobs of a simulator killed mid-run to the others, loses none, and uses it again once it answers its probe', async () => {
    c = await startCluster({ sims: ['a', 'b', 'c'], channels: (u) => [openai('a', u.a!), openai('b', u.b!), openai('c', u.c!)], env: { TEXT_CONCURRENCY: '4' } });
    for (const s of Object.values(c.sims)) s.faults.add({ route: 'openai', kind: 'latency', ms: 20 });
    const submitting = submitChats(c.call, 300, { parallel: 10 });
    await waitFor(async () => workCalls(c!.sims.a!).length >= 20, { what: 'a to take some work' });
    await c.kill('a');
    const ids = await submitting;
    const tasks = await settle(c, ids);
    expect(tasks.every((t) => t.status === 'succeeded')).toBe(true);
    // Never straight back to a channel that failed the job.
    for (const t of tasks) {
      const names = t.channel_attempts.map((a: any) => a.channel);
      expect(new Set(names).size).toBe(names.length);
    }
    // Only the calls in flight when it died, and until its circuit opened, went to the dead one.
    const failedOnA = tasks.flatMap((t) => t.channel_attempts).filter((a: any) => a.channel === 'a' && a.outcome === 'moved');
    expect(failedOnA.length).toBeLessThanOrEqual(8 + 3);
    const admin = (await c.call('GET', '/admin/channels', { key: KEYS.admin })).body.data.find((x: any) => x.name === 'a');
    expect(admin).toMatchObject({ state: 'open' });
    expect(admin.recent_errors.length).toBeGreaterThan(0);

    await c.revive('a');
    await waitFor(async () => c!.sims.a!.requests.some((r) => r.method === 'GET' && r.path === '/v1/models'), { timeoutMs: 40_000, what: 'a probe of a' });
    // A good probe makes it half-open: the next call to it is a trial, which closes it.
    await waitFor(async () => (await c!.call('GET', '/admin/channels', { key: KEYS.admin })).body.data.find((x: any) => x.name === 'a').state === 'half_open', { what: 'a half-open' });
    const more = await settle(c, await submitChats(c.call, 30));
    expect(more.every((t) => t.status === 'succeeded')).toBe(true);
    expect(workCalls(c.sims.a!).length).toBeGreaterThan(0);
    expect((await c.call('GET', '/admin/channels', { key: KEYS.admin })).body.data.find((x: any) => x.name === 'a').state).toBe('healthy');
  });

  it('keeps every worker off a channel for the Retry-After of its 429', async () => {
    c = await startCluster({ sims: ['a', 'b'], channels: (u) => [openai('a', u.a!), openai('b', u.b!)] });
    c.sims.a!.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: 2, times: 1, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } });
    const ids = await submitChats(c.call, 20, { parallel: 1 });
    const tasks = await settle(c, ids);
    expect(tasks.every((t) => t.status === 'succeeded')).toBe(true);
    const onA = workCalls(c.sims.a!);
    const limitedAt = onA[0]!.at;
    const more: string[] = [];
    // Keep traffic flowing past the cool-down.
    await waitFor(
      async () => {
        more.push(...(await submitChats(c!.call, 4, { parallel: 1 })));
        return Date.now() > limitedAt + 3000;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'traffic past the cool-down' },
    );
    await settle(c, more);
    const after = workCalls(c.sims.a!).slice(1);
    // A call a worker had already routed to it when the 429 came back may still land just after
    // it; from then on nothing until Retry-After has passed, and then it is used again.
    expect(after.filter((r) => r.at > limitedAt + 250 && r.at < limitedAt + 1950)).toEqual([]);
    expect(after.some((r) => r.at >= limitedAt + 2000)).toBe(true);
  });

  it('gives every task an end and ≥ 99 % success when 30 % of calls fail (500, 429, reset, hang) on two channels', async () => {
    c = await startCluster({ sims: ['a', 'b'], channels: (u) => [openai('a', u.a!), openai('b', u.b!)], env: { UPSTREAM_TIMEOUT_SECONDS: '1', SYNC_WAIT_SECONDS: '2', JOB_ATTEMPTS: '6' } });
    // Four faults of 7.5 % each, drawn in turn: 30 % of calls fail.
    for (const s of Object.values(c.sims)) {
      s.faults.add({ route: 'openai', kind: 'status', status: 500, probability: 0.075 });
      s.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: 1, probability: 0.075 / 0.925 });
      s.faults.add({ route: 'openai', kind: 'reset', probability: 0.075 / 0.85 });
      s.faults.add({ route: 'openai', kind: 'hang', probability: 0.075 / 0.775 });
    }
    const ids = await submitChats(c.call, 200, { parallel: 20 });
    const tasks = await settle(c, ids, 120_000);
    const ok = tasks.filter((t) => t.status === 'succeeded').length;
    expect(tasks.every((t) => ['succeeded', 'failed'].includes(t.status))).toBe(true);
    expect(ok / tasks.length).toBeGreaterThanOrEqual(0.99);
    // Failures did happen, and moved.
    expect(tasks.flatMap((t) => t.channel_attempts).some((a: any) => a.outcome === 'moved')).toBe(true);
  }, 180_000);
});

describe('MJ follow-ups stay on their channel', () => {
  let c: Cluster | null = null;
  afterEach(async () => {
    await c?.close();
    c = null;
  });

  it('fails an action on a task whose channel was disabled, with a clear reason, calling no other account', async () => {
    const mj = (u: Record<string, string>, aEnabled: boolean) => [
      { name: 'mj-a', type: 'mj', baseUrl: u.a, enabled: aEnabled },
      { name: 'mj-b', type: 'mj', baseUrl: u.b, priority: -1 },
    ];
    let urls: Record<string, string> = {};
    c = await startCluster({
      sims: ['a', 'b'],
      channels: (u) => {
        urls = u;
        return mj(u, true);
      },
    });
    const { body } = await c.call('POST', '/mj/submit/imagine', { body: { prompt: 'a cat on account a' } });
    const done = await mjUntil(c.call, body.result, ['SUCCESS']);
    expect((await c.call('GET', `/v1/tasks/${body.result}`, { key: KEYS.admin })).body.channel).toBe('mj-a');
    c.writeChannels(mj(urls, false));
    await c.reload();
    const actionsOnB = () => c!.sims.b!.requests.filter((r) => r.path.includes('/submit/action')).length;
    const r = await c.call('POST', '/mj/submit/action', { body: { taskId: body.result, customId: done.buttons[0].customId } });
    expect(r.body.code).toBe(1);
    const failed = await mjUntil(c.call, r.body.result, ['FAILURE']);
    expect(failed.failReason).toMatch(/channel mj-a, which holds this task, is disabled/);
    expect(actionsOnB()).toBe(0);
    // New work still flows, to the other account.
    const next = await c.call('POST', '/mj/submit/imagine', { body: { prompt: 'a dog' } });
    await mjUntil(c.call, next.body.result, ['SUCCESS']);
    expect((await c.call('GET', `/v1/tasks/${next.body.result}`, { key: KEYS.admin })).body.channel).toBe('mj-b');
  });
});

describe('a channel file with mistakes', () => {
  it('stops a worker at start with one line per mistake, saying where each is', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'relayq-bad-')), 'upstreams.yaml');
    writeFileSync(file, 'channels:\n  - name: a\n    type: openai\n    baseUrl: http://x/v1\n    rpm: 0\n  - name: a\n    type: mj\n    baseUrl: nope\n');
    const p = runRole('worker/main.ts', { REDIS_URL: inject('redisUrl'), API_KEYS: `acme:${KEYS.acme}`, UPSTREAMS_FILE: file });
    expect(await p.exited).toBe(1);
    expect(p.err().trim().split('\n')).toEqual([
      `relayq worker: invalid UPSTREAMS_FILE ${file}:`,
      '  channels[0].rpm: must be a positive integer',
      '  channels[1].name: "a" is used by another channel',
      '  channels[1].baseUrl: must be an http(s) URL',
    ]);
  });
});
