import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultChannel, type Channel } from '../../shared/channels/config.js';
import { createChannelRegistry } from '../../shared/channels/registry.js';
import { CIRCUIT, createChannelState, type ChannelState } from '../../shared/channels/state.js';
import { ChannelBusyError, PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { createRouter } from '../../worker/channels/router.js';
import { createChannelRunner } from '../../worker/channels/run.js';
import { waitFor } from '../support/stack.js';

const ch = (name: string, extra: Partial<Channel> = {}): Channel => ({ ...defaultChannel({ name, type: 'openai', baseUrl: `http://${name}.invalid/v1`, key: '' }), ...extra });
const need = { type: 'openai' as const, kind: 'chat.completion' as const, model: 'm' };

describe('channel state in Redis', () => {
  let redis: Redis;
  let state: ChannelState;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    state = createChannelState({ redis, prefix: `c${randomBytes(4).toString('hex')}` });
  });
  afterAll(() => redis.quit());

  it('holds a concurrency limit, and gives a slot back on release', async () => {
    const c = ch('conc', { concurrency: 2 });
    expect(await state.acquire(c, 'a')).toBeNull();
    expect(await state.acquire(c, 'b')).toBeNull();
    expect(await state.acquire(c, 'c')).toMatchObject({ reason: 'concurrency' });
    await state.release(c, 'a');
    expect(await state.acquire(c, 'c')).toBeNull();
    expect((await state.view([c]))[0]).toMatchObject({ in_flight: 2, rpm_used: 3, state: 'healthy' });
  });

  it('holds an rpm limit over a sliding 60 s window and says how long to wait', async () => {
    const c = ch('rpm', { rpm: 3 });
    for (const id of ['1', '2', '3']) {
      expect(await state.acquire(c, id)).toBeNull();
      await state.release(c, id);
    }
    const refused = await state.acquire(c, '4');
    expect(refused).toMatchObject({ reason: 'rpm' });
    expect(refused!.waitMs).toBeGreaterThan(55_000);
    expect(refused!.waitMs).toBeLessThanOrEqual(60_000);
  });

  it('cools a channel down after a 429 for every caller, then takes calls again', async () => {
    const c = ch('cool');
    await state.limited(c, 'upstream answered 429', 300);
    expect(await state.acquire(c, 'x')).toMatchObject({ reason: 'cooldown' });
    expect((await state.usable([c])).get('cool')).toMatchObject({ reason: 'cooldown' });
    expect((await state.view([c]))[0]).toMatchObject({ state: 'cooling_down', recent_errors: [{ error: 'upstream answered 429', status: 429 }] });
    await waitFor(async () => (await state.acquire(c, 'x')) === null, { what: 'the cool-down to end' });
  });

  it('opens after consecutive failures, lets one prober in after the cool-down, and turns half-open on a good probe', async () => {
    const c = ch('flaky');
    await state.failed(c, 'boom', 502);
    await state.succeeded(c); // a success in between starts the count again
    for (let i = 1; i < CIRCUIT.failures; i++) expect(await state.failed(c, 'boom', 502)).toBe(false);
    expect(await state.failed(c, 'boom', 502)).toBe(true);
    expect(await state.acquire(c, 'x')).toMatchObject({ reason: 'open' });
    expect((await state.view([c]))[0]).toMatchObject({ state: 'open', consecutive_failures: CIRCUIT.failures });
    expect(await state.claimProbe(c, 5000)).toBe(false); // still cooling down
    await waitFor(async () => state.claimProbe(c, 5000), { what: 'the probe to be due' });
    expect(await state.claimProbe(c, 5000)).toBe(false); // one prober at a time
    await state.probed(c, false, 'still down');
    const reopened = (await state.view([c]))[0]!;
    expect(reopened.state).toBe('open');
    expect(reopened.open_until! - Date.now()).toBeGreaterThan(CIRCUIT.baseMs * 1.5); // the cool-down doubled
    await state.probed(c, true, '');
    expect((await state.view([c]))[0]).toMatchObject({ state: 'half_open', consecutive_failures: 0 });
    expect(await state.acquire(c, 'x')).toBeNull();
    await state.succeeded(c, 'x');
    expect((await state.view([c]))[0]).toMatchObject({ state: 'healthy', consecutive_failures: 0 });
  });
});

describe('routing and failover', () => {
  let redis: Redis;
  let state: ChannelState;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    state = createChannelState({ redis, prefix: `r${randomBytes(4).toString('hex')}` });
  });
  afterAll(() => redis.quit());
  const runnerFor = (channels: Channel[]) => {
    const registry = createChannelRegistry(channels);
    return createChannelRunner({ registry, state, router: createRouter({ registry, state }) });
  };

  it('follows the weights exactly within the highest priority that has a healthy channel', async () => {
    const run = runnerFor([ch('w5', { weight: 5, priority: 1 }), ch('w3', { weight: 3, priority: 1 }), ch('w2', { weight: 2, priority: 1 }), ch('backup', { priority: 0, weight: 100 })]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const { channel } = await run.call(need, {}, async (c) => c.name);
      counts[channel.name] = (counts[channel.name] ?? 0) + 1;
    }
    expect(counts).toEqual({ w5: 50, w3: 30, w2: 20 });
  });

  it('serves only the channels whose models and kinds match, and says when none does', async () => {
    const run = runnerFor([ch('gpt', { models: ['gpt-*'] }), ch('embed', { kinds: ['embedding'] })]);
    expect((await run.call({ ...need, model: 'gpt-4o' }, {}, async () => 1)).channel.name).toBe('gpt');
    expect((await run.call({ type: 'openai', kind: 'embedding', model: 'e' }, {}, async () => 1)).channel.name).toBe('embed');
    await expect(run.call({ ...need, model: 'claude' }, {}, async () => 1)).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/^The model `claude` does not exist/), upstreamError: { code: 'model_not_found' } });
    await expect(runnerFor([ch('chat-only', { kinds: ['chat.completion'] })]).call({ type: 'openai', kind: 'embedding', model: 'e' }, {}, async () => 1)).rejects.toThrow(/no enabled channel serves openai embedding model e/);
  });

  it('moves a retryable failure at once to another channel, never back to the one that failed', async () => {
    const run = runnerFor([ch('down-a'), ch('down-b'), ch('up')]);
    const seen: string[] = [];
    const { value, attempts } = await run.call(need, {}, async (c) => {
      seen.push(c.name);
      if (c.name !== 'up') throw new RetryableUpstreamError('upstream answered 502: bad gateway', 502);
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(new Set(seen).size).toBe(seen.length);
    expect(attempts.map((a) => a.outcome)).toEqual([...seen.slice(0, -1).map(() => 'moved'), 'succeeded']);
  });

  it('keeps a refusal of the request on its channel: another channel would refuse it too', async () => {
    const run = runnerFor([ch('p1'), ch('p2')]);
    let calls = 0;
    const attempts: unknown[] = [];
    await expect(
      run.call(need, { onAttempt: async (a) => void attempts.push(...a) }, async () => {
        calls++;
        throw new PermanentUpstreamError("This model's maximum context length is 8192 tokens", 400);
      }),
    ).rejects.toThrow('maximum context length');
    expect(calls).toBe(1);
    expect(attempts).toMatchObject([{ outcome: 'failed', status: 400 }]);
  });

  it('moves off a channel whose own key or quota is refused', async () => {
    const run = runnerFor([ch('nokey', { priority: 1 }), ch('good')]);
    const { channel, attempts } = await run.call(need, {}, async (c) => {
      if (c.name === 'nokey') throw new PermanentUpstreamError('Incorrect API key provided', 401);
      return 1;
    });
    expect(channel.name).toBe('good');
    expect(attempts[0]).toMatchObject({ channel: 'nokey', outcome: 'moved', status: 401 });
  });

  it('moves off a channel whose quota is spent or whose network wants a login (insufficient_quota, 407, 511)', async () => {
    const refusals = [
      new PermanentUpstreamError('You exceeded your current quota', 429, undefined, undefined, { type: 'insufficient_quota', code: 'insufficient_quota', param: null }),
      new PermanentUpstreamError('Proxy Authentication Required', 407),
      new PermanentUpstreamError('Network Authentication Required', 511),
    ];
    for (const [i, refusal] of refusals.entries()) {
      const run = runnerFor([ch(`spent${i}`, { priority: 1 }), ch(`fine${i}`)]);
      const { channel, attempts } = await run.call(need, {}, async (c) => {
        if (c.name === `spent${i}`) throw refusal;
        return 1;
      });
      expect(channel.name, refusal.message).toBe(`fine${i}`);
      expect(attempts[0]).toMatchObject({ channel: `spent${i}`, outcome: 'moved' });
    }
  });

  it('gives up with the failure of the channel that is back soonest, not the long Retry-After of the last one tried', async () => {
    const run = runnerFor([ch('soon', { priority: 2 }), ch('tomorrow', { priority: 1 })]);
    const err = await run
      .call(need, {}, async (c) => {
        throw new RetryableUpstreamError(`429 from ${c.name}`, 429, c.name === 'soon' ? 5000 : 120_000);
      })
      .catch((e: unknown) => e as RetryableUpstreamError);
    expect(err).toMatchObject({ message: '429 from soon', retryAfterMs: 5000 });
  });

  it('says when the wait for a channel is a 429 cool-down rather than limits or a failing channel', async () => {
    const cooling = ch('cooling');
    await state.limited(cooling, 'upstream answered 429', 120_000);
    const err = (await runnerFor([cooling]).call(need, {}, async () => 1).catch((e: unknown) => e)) as ChannelBusyError;
    expect(err).toBeInstanceOf(ChannelBusyError);
    expect(err).toMatchObject({ rateLimited: true, reason: expect.stringMatching(/cooling down after a 429/) });
    expect(err.waitMs).toBeGreaterThan(110_000);
    const pinned = (await runnerFor([cooling]).call(need, { pinned: 'cooling' }, async () => 1).catch((e: unknown) => e)) as ChannelBusyError;
    expect(pinned.rateLimited).toBe(true);

    const full = ch('full', { concurrency: 1 });
    expect(await state.acquire(full, 'held')).toBeNull();
    expect(((await runnerFor([full]).call(need, {}, async () => 1).catch((e: unknown) => e)) as ChannelBusyError).rateLimited).toBe(false);
    await state.release(full, 'held');
  });

  it('waits (ChannelBusyError) when every channel is at its limit, without calling any', async () => {
    const c = ch('busy', { concurrency: 1 });
    const run = runnerFor([c]);
    expect(await state.acquire(c, 'held')).toBeNull();
    const err = await run.call(need, {}, async () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelBusyError);
    expect((err as ChannelBusyError).reason).toMatch(/concurrency limit/);
    await state.release(c, 'held');
  });

  it('keeps a pinned call on its channel, and fails it clearly when that channel is disabled or gone', async () => {
    const run = runnerFor([ch('holder'), ch('other'), ch('off', { enabled: false })]);
    expect((await run.call(need, { pinned: 'holder' }, async () => 1)).channel.name).toBe('holder');
    await expect(run.call(need, { pinned: 'off' }, async () => 1)).rejects.toThrow(/channel off, which holds this task, is disabled/);
    await expect(run.call(need, { pinned: 'gone' }, async () => 1)).rejects.toThrow(/channel gone, which holds this task, is no longer configured/);
    let calls = 0;
    await expect(
      run.call(need, { pinned: 'holder' }, async () => {
        calls++;
        throw new RetryableUpstreamError('reset');
      }),
    ).rejects.toThrow('reset');
    expect(calls).toBe(1);
  });

  it('takes the slot of the only channel that could serve without reading its health first, and gives it back with the success in one step', async () => {
    const only = ch('only-one');
    const registry = createChannelRegistry([only]);
    const ops: string[] = [];
    const counted = {
      ...state,
      usable: (cs: Channel[]) => (ops.push('peek'), state.usable(cs)),
      acquire: (c: Channel, id: string) => (ops.push('acquire'), state.acquire(c, id)),
      succeeded: (c: Channel, id?: string) => (ops.push('succeeded'), state.succeeded(c, id)),
      succeededAndReleased: (c: Channel, id: string) => (ops.push('succeeded+release'), state.succeededAndReleased(c, id)),
      release: (c: Channel, id: string) => (ops.push('release'), state.release(c, id)),
    };
    const run = createChannelRunner({ registry, state: counted, router: createRouter({ registry, state: counted }) });
    expect((await run.call(need, {}, async () => 'ok')).value).toBe('ok');
    expect((await run.call(need, { pinned: 'only-one' }, async () => 'ok')).value).toBe('ok');
    expect(ops).toEqual(['acquire', 'succeeded+release', 'acquire', 'succeeded+release']);
    expect((await state.view([only]))[0]).toMatchObject({ in_flight: 0, rpm_used: 2 });
    // Refused for its health, the call reads it and says why, as a routed wait does.
    for (let i = 0; i < CIRCUIT.failures; i++) await state.failed(only, 'boom', 502);
    ops.length = 0;
    await expect(run.call(need, {}, async () => 'never')).rejects.toMatchObject({ failing: true, message: expect.stringMatching(/^no healthy channel: only-one is open until .* \(last error: boom\)/) });
    expect(ops).toEqual(['acquire', 'peek']);
    await expect(run.call(need, { pinned: 'only-one' }, async () => 'never')).rejects.toMatchObject({ failing: true, message: expect.stringMatching(/only-one is open until .*last error: boom.*and it holds this task/) });
  });

  it('ends a half-open trial that succeeded and gives its slot back in one step', async () => {
    const c = ch('trial-one');
    for (let i = 0; i < CIRCUIT.failures; i++) await state.failed(c, 'boom', 502);
    await waitFor(async () => state.claimProbe(c, 1000), { what: 'the cool-down to end' });
    await state.probed(c, true, '');
    expect(await state.acquire(c, 'trial')).toBeNull();
    expect((await state.view([c]))[0]).toMatchObject({ state: 'half_open', in_flight: 1 });
    await state.succeededAndReleased(c, 'trial');
    expect((await state.view([c]))[0]).toMatchObject({ state: 'healthy', in_flight: 0 });
  });
});
