import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultChannel, type Channel } from '../../shared/channels/config.js';
import { createChannelRegistry } from '../../shared/channels/registry.js';
import { CIRCUIT, createChannelState, type ChannelState } from '../../shared/channels/state.js';
import { ChannelBusyError, PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { startSim, type Sim } from '../../sim/server.js';
import { createRouter } from '../../worker/channels/router.js';
import { createChannelRunner } from '../../worker/channels/run.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

const ch = (name: string, extra: Partial<Channel> = {}): Channel => ({ ...defaultChannel({ name, type: 'openai', baseUrl: `http://${name}.invalid/v1`, key: '' }), ...extra });
const need = { type: 'openai' as const, kind: 'chat.completion' as const, model: 'm' };

/** Channel health as the runner sees it: opening, half-open trials, waits, avoided channels. */
describe('channel health in the runner', () => {
  let redis: Redis;
  let state: ChannelState;
  const prefix = `h${randomBytes(4).toString('hex')}`;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    state = createChannelState({ redis, prefix });
  });
  afterAll(() => redis.quit());
  const runnerFor = (channels: Channel[]) => {
    const registry = createChannelRegistry(channels);
    return createChannelRunner({ registry, state, router: createRouter({ registry, state }) });
  };
  const openIt = async (c: Channel) => {
    for (let i = 0; i < CIRCUIT.failures; i++) await state.failed(c, 'boom', 502);
  };
  const viewOf = async (c: Channel) => (await state.view([c]))[0]!;

  it('says a job waiting only for failing (open) channels is failing, naming each channel and until when', async () => {
    const a = ch('fa');
    const b = ch('fb');
    await openIt(a);
    await openIt(b);
    const err = (await runnerFor([a, b, ch('fc', { enabled: false })])
      .call(need, {}, async () => 1)
      .catch((e: unknown) => e)) as ChannelBusyError;
    expect(err).toBeInstanceOf(ChannelBusyError);
    expect(err.failing).toBe(true);
    expect(err.reason).toMatch(/^no healthy channel: fa is open until \d{4}-\d\d-\d\dT[\d:.]+Z \(last error: boom\), fb is open until .+; fc is disabled$/);
    // A wait for limits is not a failing channel.
    const full = ch('ffull', { concurrency: 1 });
    expect(await state.acquire(full, 'held')).toBeNull();
    expect(((await runnerFor([full]).call(need, {}, async () => 1).catch((e: unknown) => e)) as ChannelBusyError).failing).toBe(false);
    await state.release(full, 'held');
  });

  it('lets one trial call through after a good probe, and closes only when that call succeeds', async () => {
    const c = ch('half');
    await openIt(c);
    await waitFor(async () => state.claimProbe(c, 5000), { what: 'the probe to be due' });
    await state.probed(c, true, '');
    expect(await viewOf(c)).toMatchObject({ state: 'half_open' });
    expect(await state.acquire(c, 'trial')).toBeNull();
    // Only the one trial: everyone else waits for its outcome.
    expect(await state.acquire(c, 'second')).toMatchObject({ reason: 'trial' });
    expect((await state.usable([c])).get('half')).toMatchObject({ reason: 'trial' });
    await state.succeeded(c, 'trial');
    await state.release(c, 'trial');
    expect(await viewOf(c)).toMatchObject({ state: 'healthy', consecutive_failures: 0 });
    expect(await state.acquire(c, 'after')).toBeNull();
  });

  it('reopens a half-open channel whose trial fails, with the doubled cool-down', async () => {
    const c = ch('half2');
    await openIt(c);
    await waitFor(async () => state.claimProbe(c, 5000), { what: 'the probe to be due' });
    await state.probed(c, true, '');
    expect(await state.acquire(c, 'trial')).toBeNull();
    expect(await state.failed(c, 'trial failed', 502, 'trial')).toBe(true);
    const v = await viewOf(c);
    expect(v.state).toBe('open');
    expect(v.open_until! - Date.now()).toBeGreaterThan(CIRCUIT.baseMs * 1.5);
  });

  it('a trial that ends neither way (released) hands the trial to the next caller', async () => {
    const c = ch('half3');
    await openIt(c);
    await waitFor(async () => state.claimProbe(c, 5000), { what: 'the probe to be due' });
    await state.probed(c, true, '');
    expect(await state.acquire(c, 'first')).toBeNull();
    await state.release(c, 'first');
    expect(await state.acquire(c, 'next')).toBeNull();
    expect(await viewOf(c)).toMatchObject({ state: 'half_open' });
  });

  it('keeps callers of a channel being probed waiting only as long as the probe may take', async () => {
    const c = ch('probing');
    await openIt(c);
    await waitFor(async () => state.claimProbe(c, 5000), { what: 'the probe to be due' });
    const wait = (await state.usable([c])).get('probing')!;
    expect(wait.reason).toBe('probing');
    expect(wait.waitMs).toBeLessThanOrEqual(5000);
    const err = (await runnerFor([c]).call(need, {}, async () => 1).catch((e: unknown) => e)) as ChannelBusyError;
    expect(err).toBeInstanceOf(ChannelBusyError);
    expect(err.failing).toBe(false);
    expect(err.waitMs).toBeLessThanOrEqual(5000);
  });

  it('uses a channel the job avoided once it is the only healthy one', async () => {
    const earlier = ch('av-earlier');
    const other = ch('av-other', { priority: 5 });
    await openIt(other);
    const { channel } = await runnerFor([earlier, other]).call(need, { avoid: ['av-earlier'] }, async () => 1);
    expect(channel.name).toBe('av-earlier');
    // While another healthy channel can serve, the avoided one is left alone.
    const third = ch('av-third');
    const picked = await runnerFor([earlier, other, third]).call(need, { avoid: ['av-earlier'] }, async () => 1);
    expect(picked.channel.name).toBe('av-third');
  });

  it('moves a model_not_found (or "model does not exist") 404 to another channel and counts it against the one that said it', async () => {
    const wrong = ch('mnf-wrong', { priority: 1 });
    const right = ch('mnf-right');
    const notFound = new PermanentUpstreamError('The model `m` does not exist or you do not have access to it.', 404, undefined, undefined, { type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    const { channel, attempts } = await runnerFor([wrong, right]).call(need, {}, async (c) => {
      if (c.name === 'mnf-wrong') throw notFound;
      return 1;
    });
    expect(channel.name).toBe('mnf-right');
    expect(attempts[0]).toMatchObject({ channel: 'mnf-wrong', outcome: 'moved', status: 404 });
    expect(await viewOf(wrong)).toMatchObject({ consecutive_failures: 1 });

    // Without a code, by what it says; with no channel left, the upstream's own error.
    const bare = new PermanentUpstreamError('model "m" does not exist', 404);
    let calls = 0;
    await expect(
      runnerFor([ch('mnf-a'), ch('mnf-b')]).call(need, {}, async () => {
        calls++;
        throw bare;
      }),
    ).rejects.toBe(bare);
    expect(calls).toBe(2);
  });

  it('cools a channel down briefly for Retry-After: 0, neither not at all nor for the 2 s default', async () => {
    const c = ch('ra0');
    const run = runnerFor([c, ch('ra0-other', { priority: -1 })]);
    let limitedAt = 0;
    await run.call(need, {}, async (x) => {
      if (x.name !== 'ra0') return 1;
      limitedAt = Date.now();
      throw new RetryableUpstreamError('upstream answered 429: slow down', 429, 0);
    });
    const until = Number(await redis.hget(`${prefix}:{ch:ra0}:state`, 'cooldown_until'));
    expect(until - limitedAt).toBeGreaterThanOrEqual(400);
    expect(until - limitedAt).toBeLessThan(1000);
  });

  it('says a pinned job whose channel is open is failing, and one whose channel is being probed is only waiting', async () => {
    const holder = ch('pin-open');
    await openIt(holder);
    const run = runnerFor([holder, ch('pin-other')]);
    const err = (await run.call(need, { pinned: 'pin-open' }, async () => 1).catch((e: unknown) => e)) as ChannelBusyError;
    expect(err).toMatchObject({ failing: true, reason: expect.stringMatching(/^no healthy channel: pin-open is open until \S+ \(last error: boom\), and it holds this task$/) });
    await waitFor(async () => state.claimProbe(holder, 5000), { what: 'the probe to be due' });
    const probing = (await run.call(need, { pinned: 'pin-open' }, async () => 1).catch((e: unknown) => e)) as ChannelBusyError;
    expect(probing).toMatchObject({ failing: false });
    expect(probing.waitMs).toBeLessThanOrEqual(5000);
  });

  it('uses a weight-0 channel only when the others of its tier cannot serve', async () => {
    const main = ch('w0-main', { concurrency: 1 });
    const spare = ch('w0-spare', { weight: 0 });
    const run = runnerFor([spare, main]);
    for (let i = 0; i < 10; i++) expect((await run.call(need, {}, async () => 1)).channel.name).toBe('w0-main');
    expect(await state.acquire(main, 'held')).toBeNull();
    expect((await run.call(need, {}, async () => 1)).channel.name).toBe('w0-spare');
    await state.release(main, 'held');
    await openIt(main);
    expect((await run.call(need, {}, async () => 1)).channel.name).toBe('w0-spare');
  });
});

/** The same, end to end: tasks through the API, workers, and simulated upstreams. */
describe('channel health end to end', () => {
  let a: Sim;
  let b: Sim;
  let s: Stack;
  let dir: string;
  beforeAll(async () => {
    a = await startSim({ mjDurationMs: 200, openaiKey: 'sk-upstream-0123456789' });
    b = await startSim({ mjDurationMs: 200, openaiKey: 'sk-upstream-0123456789' });
    dir = mkdtempSync(join(tmpdir(), 'relayq-health-'));
    const file = join(dir, 'upstreams.json');
    const oa = (name: string, sim: Sim, extra: object = {}) => ({ name, type: 'openai', baseUrl: `${sim.url}/v1`, key: 'sk-upstream-0123456789', models: ['sim-chat', 'sim-*'], ...extra });
    writeFileSync(
      file,
      JSON.stringify({
        channels: [
          oa('oa-a', a, { priority: 1 }),
          oa('oa-b', b),
          oa('oa-solo', a, { models: ['solo-model'] }),
          oa('oa-slow', a, { models: ['slow-model'], timeoutSeconds: 1 }),
          { name: 'an-a', type: 'anthropic', baseUrl: a.baseUrlFor('anthropic') },
          { name: 'mj-a', type: 'mj', baseUrl: a.url, priority: 1 },
          { name: 'mj-b', type: 'mj', baseUrl: b.url },
          { name: 'mj-slow', type: 'mj', baseUrl: a.url, kinds: ['mj.describe'], priority: 9, timeoutSeconds: 1 },
        ],
      }),
    );
    s = await startStack({ env: { UPSTREAMS_FILE: file, JOB_ATTEMPTS: '2', SYNC_WAIT_SECONDS: '2', UPSTREAM_TIMEOUT_SECONDS: '60', CHANNEL_WAIT_SECONDS: '2' } });
  });
  afterEach(() => {
    a.faults.clear();
    b.faults.clear();
  });
  afterAll(async () => {
    await s.close();
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = async (name: string) => (await s.call('GET', '/admin/channels', { key: KEYS.admin })).body.data.find((c: any) => c.name === name);
  const chat = (content: string, extra: object = {}) => s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content }], ...extra }, headers: { prefer: 'respond-async' } });
  const settled = (id: string) =>
    waitFor(
      async () => {
        const t = (await s.call('GET', `/v1/tasks/${id}`, { key: KEYS.admin })).body;
        return t.status === 'succeeded' || t.status === 'failed' ? t : null;
      },
      { timeoutMs: 20_000, what: `task ${id} to end` },
    );
  const chatCalls = (sim: Sim) => sim.requests.filter((r) => r.path === '/v1/chat/completions').length;

  it('answers 404 model_not_found in the OpenAI format for a model no channel serves', async () => {
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'nobody-serves-this', messages: [{ role: 'user', content: 'hi' }] } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      error: { message: expect.stringMatching(/^The model `nobody-serves-this` does not exist/), type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    });
  });

  it('moves a call whose channel answers 404 model_not_found to another channel serving the model, and counts it against the first', async () => {
    a.faults.add({ route: 'openai', kind: 'status', status: 404, times: 1, body: { error: { message: 'The model `sim-chat` does not exist or you do not have access to it.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } });
    const before = (await admin('oa-a')).consecutive_failures as number;
    const task = await settled((await chat('wrong model list')).body.id);
    expect(task.status).toBe('succeeded');
    expect(task.channel_attempts.map((x: any) => [x.channel, x.outcome, x.status])).toEqual([
      ['oa-a', 'moved', 404],
      ['oa-b', 'succeeded', null],
    ]);
    expect(await admin('oa-a')).toMatchObject({ consecutive_failures: before + 1 });
    // With no channel left, the upstream's own 404 reaches the client.
    for (const sim of [a, b]) sim.faults.add({ route: 'openai', kind: 'status', status: 404, times: 1, body: { error: { message: 'The model `sim-chat` does not exist or you do not have access to it.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } });
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'nowhere' }] } });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'model_not_found', message: 'The model `sim-chat` does not exist or you do not have access to it.' });
    // A success resets oa-a's count for the tests that follow.
    expect((await settled((await chat('healthy again')).body.id)).status).toBe('succeeded');
  });

  it("fails over a stream that breaks before any content reached the client (a role-only first chunk), like a whole answer", async () => {
    const role = JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'sim-chat', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    a.faults.add({ route: 'openai', kind: 'body', contentType: 'text/event-stream', parts: [{ text: `data: ${role}\n\n` }], times: 1 });
    const before = chatCalls(b);
    const r = await chat('moves before content', { stream: true });
    const task = await settled(r.body.id);
    expect(task.status).toBe('succeeded');
    expect(chatCalls(b)).toBe(before + 1);
    expect(task.channel_attempts.map((x: any) => [x.channel, x.outcome])).toEqual([
      ['oa-a', 'moved'],
      ['oa-b', 'succeeded'],
    ]);
  });

  it('cools a channel down until the HTTP date of its Retry-After, and briefly for a date already past', async () => {
    const at = new Date(Date.now() + 5000).toUTCString();
    a.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: at, times: 1, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } });
    expect((await settled((await chat('dated 429')).body.id)).status).toBe('succeeded');
    const cooling = await admin('oa-a');
    expect(cooling.state).toBe('cooling_down');
    expect(cooling.cooldown_until - Date.parse(at)).toBeLessThan(1000);
    expect(cooling.cooldown_until - Date.parse(at)).toBeGreaterThan(-1000);
    await waitFor(async () => (await admin('oa-a')).state === 'healthy', { what: 'the cool-down to end' });
    a.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: new Date(Date.now() - 60_000).toUTCString(), times: 1, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } });
    expect((await settled((await chat('past 429')).body.id)).status).toBe('succeeded');
    const limitedAt = a.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!.at;
    const until = Number(await s.redis.hget(`${s.config.QUEUE_PREFIX}:{ch:oa-a}:state`, 'cooldown_until'));
    expect(until - limitedAt).toBeGreaterThanOrEqual(400);
    expect(until - limitedAt).toBeLessThan(1000);
    await waitFor(async () => (await admin('oa-a')).state === 'healthy', { what: 'the cool-down to end' });
  });

  it('counts a stream cut after content reached the client against its channel (it cannot move)', async () => {
    a.faults.add({ route: 'openai', kind: 'stream', chunks: 6, errorAfter: 3, times: 1 });
    const before = (await admin('oa-a')).consecutive_failures as number;
    const r = await chat('cut mid-stream', { stream: true });
    const task = await settled(r.body.id);
    expect(task.status).toBe('failed');
    expect(task.channel_attempts).toMatchObject([{ channel: 'oa-a', outcome: 'failed' }]);
    expect(await admin('oa-a')).toMatchObject({ consecutive_failures: before + 1 });
    // A success resets the count for the tests that follow.
    expect((await settled((await chat('healthy again')).body.id)).status).toBe('succeeded');
  });

  it('counts an Anthropic stream cut after content reached the client against its channel', async () => {
    a.faults.add({ route: 'anthropic', kind: 'stream', errorAfter: 2, times: 1 });
    const before = (await admin('an-a')).consecutive_failures as number;
    const r = await s.call('POST', '/v1/messages', { body: { model: 'claude-sim', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'one two three four five' }] }, headers: { prefer: 'respond-async' } });
    const task = await settled(r.body.id);
    expect(task.status).toBe('failed');
    expect(await admin('an-a')).toMatchObject({ consecutive_failures: before + 1 });
  });

  it('bounds each call by its channel timeoutSeconds, not only UPSTREAM_TIMEOUT_SECONDS (stream, whole answer, MJ submit)', async () => {
    for (const stream of [true, false]) {
      a.faults.add({ route: 'openai', kind: 'hang', times: 1 });
      const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'slow-model', stream, messages: [{ role: 'user', content: `slow ${stream}` }] }, headers: { prefer: 'respond-async' } });
      const task = await settled(r.body.id);
      expect(task.channel_attempts[0], `stream ${stream}`).toMatchObject({ channel: 'oa-slow', error: expect.stringMatching(/timed out/) });
    }
    a.faults.add({ route: 'submit', kind: 'hang', times: 1 });
    const d = await s.call('POST', '/mj/submit/describe', { body: { base64: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' } });
    expect(d.body.code).toBe(1);
    const attempts = await waitFor(async () => {
      const t = (await s.call('GET', `/v1/tasks/${d.body.result}`, { key: KEYS.admin })).body;
      return t.channel_attempts?.length ? t.channel_attempts : null;
    });
    expect(attempts[0]).toMatchObject({ channel: 'mj-slow', error: expect.stringMatching(/timed out/) });
    // Its submit moved on; let it land before the next test sets its faults.
    await mjUntil(s.call, d.body.result, ['SUCCESS']);
  });

  it('moves an MJ submit the upstream refuses for its account (code 3, no available account) to another MJ channel, as a channel failure', async () => {
    a.faults.add({ route: 'submit', kind: 'code', code: 3, description: '无可用的账号实例', times: 1 });
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'account refused' } });
    expect(r.body.code).toBe(1);
    await mjUntil(s.call, r.body.result, ['SUCCESS']);
    const task = (await s.call('GET', `/v1/tasks/${r.body.result}`, { key: KEYS.admin })).body;
    expect(task.channel).toBe('mj-b');
    expect(task.channel_attempts[0]).toMatchObject({ channel: 'mj-a', outcome: 'moved' });
    expect(await admin('mj-a')).toMatchObject({ consecutive_failures: 1, recent_errors: [{ error: expect.stringContaining('无可用的账号实例') }] });

    a.faults.add({ route: 'submit', kind: 'code', code: 4, description: 'account unavailable (banned)', times: 1 });
    const r2 = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'account banned' } });
    await mjUntil(s.call, r2.body.result, ['SUCCESS']);
    expect((await s.call('GET', `/v1/tasks/${r2.body.result}`, { key: KEYS.admin })).body.channel).toBe('mj-b');
    // A refusal of the request itself stays a refusal.
    a.faults.add({ route: 'submit', kind: 'code', code: 4, description: 'prompt不能为空', times: 1 });
    const r3 = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'refused request' } });
    const t3 = await mjUntil(s.call, r3.body.result, ['FAILURE']);
    expect(t3.failReason).toContain('prompt不能为空');
  });

  it('ends a task whose only channel stays failing (open) after CHANNEL_WAIT_SECONDS, naming the channel and why', async () => {
    a.faults.add({ route: 'openai', kind: 'status', status: 502, body: { error: { message: 'bad gateway', type: 'server_error' } } });
    const solo = (n: number) => s.call('POST', '/v1/chat/completions', { body: { model: 'solo-model', messages: [{ role: 'user', content: `solo ${n}` }] }, headers: { prefer: 'respond-async' } });
    // Failing calls until the circuit opens.
    for (let n = 0; (await admin('oa-solo')).state !== 'open' && n < 10; n++) await settled((await solo(n)).body.id);
    expect((await admin('oa-solo')).state).toBe('open');
    const calls = chatCalls(a);
    const task = await settled((await solo(99)).body.id);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({
      code: 'no_healthy_channel',
      status: 503,
      message: expect.stringMatching(/^no healthy channel: oa-solo is open until \S+ \(last error: (probe failed: )?upstream answered 502: bad gateway\) \(relayq waited 2 s in all for a healthy channel\)$/),
    });
    // Waiting used no attempt.
    expect(task.attempts ?? 0).toBeLessThanOrEqual(0);
    expect(chatCalls(a)).toBe(calls);
  });
});
