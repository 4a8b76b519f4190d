import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import { createChannelRegistry } from '../../shared/channels/registry.js';
import { CIRCUIT, createChannelState, type ChannelState } from '../../shared/channels/state.js';
import { loadConfig } from '../../shared/config.js';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { LUMA_QUEUE, newLumaTask } from '../../shared/families/luma/task.js';
import { newTaskId } from '../../shared/ids.js';
import { globalKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { createTaskStore, type TaskStore } from '../../shared/tasks/store.js';
import { startSim, type Sim } from '../../sim/server.js';
import { createTracker, type TrackerAdapter } from '../../worker/tracker.js';
import { TaskReadFailed } from '../../worker/tracker-reads.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

/** What a fake upstream does on one read of a batch: answers each id (a state, a failure of that id, or nothing: a 404), or fails the whole read. */
type Read = ((upstreamId: string) => { n: number } | TaskReadFailed | null) | Error | 'hang';

/** Progress reads count toward their channel's health as calls do; a task's own failure does not. */
describe('tracker reads and channel health', () => {
  let redis: Redis;
  let queues: Queues;
  let store: TaskStore;
  let state: ChannelState;
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const config = loadConfig({ QUEUE_PREFIX: prefix, UPSTREAM_TIMEOUT_SECONDS: '1' });
  const p = { queue: LUMA_QUEUE, shard: 0 };

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    queues = createQueues({ redis, prefix, shards: 1 });
    store = createTaskStore({ redis, queues, config });
    state = createChannelState({ redis, prefix });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await queues.close();
    redis.disconnect();
  });

  /** A tracker over `n` running tasks on channel `name` (reads of `batchSize` ids), whose reads do `read.now`; counts the reads. */
  async function setUp(name: string, n: number, batchSize = 10) {
    await redis.del(`${prefix}:{${LUMA_QUEUE}}:inflight`);
    const channel = defaultChannel({ name, type: 'luma', baseUrl: 'http://127.0.0.1:9', key: '' });
    const ctl = { now: ((id: string) => ({ n: id.length })) as Read, reads: 0 };
    const adapter: TrackerAdapter<{ n: number }> = {
      family: name,
      queues: [LUMA_QUEUE],
      batchSize,
      async read(_channel, ids) {
        ctl.reads++;
        const read = ctl.now;
        if (read === 'hang') await new Promise(() => undefined);
        if (read instanceof Error) throw read;
        const out = new Map<string, { n: number } | TaskReadFailed>();
        for (const id of ids) {
          const said = (read as Exclude<Read, Error | 'hang'>)(id);
          if (said) out.set(id, said);
        }
        return out;
      },
      cancel: async () => undefined,
      fingerprint: (u) => String(u.n),
      changeFor: (u) => ({ status: 'running', patch: { progress: u.n } }),
      timeoutMs: 60_000,
      lostAfterMs: 60_000,
      pollIntervalMs: 60_000,
    };
    const tracker = createTracker({ config, redis, store, registry: createChannelRegistry([channel]), log: createLogger('silent'), channelState: state }, adapter);
    for (let i = 0; i < n; i++) {
      const task = newLumaTask({ id: newTaskId(p), kind: 'luma.generation', tenant: 'acme', status: 'running', luma: { prompt: `p${i}`, aspect_ratio: null, model: null, parentId: null } });
      await store.create(task);
      await tracker.track(task, p, name, `up-${name}-${i}`);
    }
    const tick = async () => {
      await redis.del(globalKeys(prefix).trackerLock(name));
      expect(await tracker.tick()).toBe(true);
    };
    const view = async () => (await state.view([channel]))[0]!;
    return { channel, ctl, tick, view };
  }

  it('opens a channel whose reads fail for it (5xx, connection failed, a timeout), one failure per tick however many reads failed', async () => {
    const t = await setUp('dead', 25);
    t.ctl.now = new RetryableUpstreamError('upstream answered 500: boom', 500);
    await t.tick();
    expect(t.ctl.reads).toBe(3);
    expect(await t.view()).toMatchObject({ state: 'healthy', consecutive_failures: 1, recent_errors: [{ error: 'progress read failed: upstream answered 500: boom', status: 500 }] });
    // A read of one task failing for the channel counts too, and so does a read that never answers.
    t.ctl.now = () => TaskReadFailed.of(new RetryableUpstreamError('upstream connection failed (ECONNREFUSED)'));
    await t.tick();
    expect(await t.view()).toMatchObject({ state: 'healthy', consecutive_failures: 2 });
    t.ctl.now = 'hang';
    await t.tick();
    expect(CIRCUIT.failures).toBe(3);
    expect(await t.view()).toMatchObject({ state: 'open', recent_errors: [{ error: expect.stringMatching(/^progress read failed: reading channel dead took longer than 1 s$/) }, {}, {}] });
  });

  it('leaves the channel alone for failures of one task: a 404 (not reported), a permanent refusal of its id, a refusal of the request', async () => {
    const t = await setUp('pertask', 3);
    await state.failed(t.channel, 'earlier', 502);
    await state.failed(t.channel, 'earlier', 502);
    const before = await t.view();
    expect(before).toMatchObject({ state: 'healthy', consecutive_failures: 2 });
    t.ctl.now = (id) => (id.endsWith('-0') ? null : TaskReadFailed.of(new PermanentUpstreamError('task not found', id.endsWith('-1') ? 404 : 400)));
    for (let i = 0; i < 3; i++) await t.tick();
    t.ctl.now = new PermanentUpstreamError('bad request', 400);
    await t.tick();
    t.ctl.now = () => new TaskReadFailed('generation failed: nsfw', true);
    await t.tick();
    expect(await t.view()).toEqual(before);
  });

  it('cools a channel down for a 429 read without counting it as a failure, and counts a mixed tick by its majority', async () => {
    const t = await setUp('limited', 3, 1);
    t.ctl.now = new RetryableUpstreamError('upstream answered 429: slow down', 429, 3000);
    await t.tick();
    const v = await t.view();
    expect(v).toMatchObject({ state: 'cooling_down', consecutive_failures: 0 });
    expect(v.cooldown_until! - Date.now()).toBeGreaterThan(2000);
    // One of three reads answered: a failure; two of three: a success.
    t.ctl.now = (id) => (id.endsWith('-0') ? { n: 2 } : TaskReadFailed.of(new RetryableUpstreamError('upstream answered 502', 502)));
    await t.tick();
    expect(await t.view()).toMatchObject({ consecutive_failures: 1 });
    t.ctl.now = (id) => (id.endsWith('-0') ? TaskReadFailed.of(new RetryableUpstreamError('upstream answered 502', 502)) : { n: 1 });
    await t.tick();
    expect(await t.view()).toMatchObject({ consecutive_failures: 0 });
  });

  it('counts reads apart from calls: good reads between failing calls do not keep the channel closed, nor good calls failing reads', async () => {
    const t = await setUp('apart', 2);
    for (let i = 0; i < CIRCUIT.failures; i++) {
      t.ctl.now = (id) => ({ n: id.length + i });
      await t.tick();
      expect(await state.failed(t.channel, 'no account available', null)).toBe(i + 1 === CIRCUIT.failures);
      expect(await t.view()).toMatchObject({ consecutive_failures: i + 1 });
    }
    expect(await t.view()).toMatchObject({ state: 'open' });
    const u = await setUp('apart2', 2);
    u.ctl.now = new RetryableUpstreamError('upstream answered 503', 503);
    for (let i = 0; i < CIRCUIT.failures - 1; i++) {
      await u.tick();
      await state.succeeded(u.channel);
    }
    await u.tick();
    expect(await u.view()).toMatchObject({ state: 'open' });
  });

  it('never ends an open circuit by a read; after a good probe, reads that answer close it unless a trial call is under way', async () => {
    const t = await setUp('back', 2);
    for (let i = 0; i < CIRCUIT.failures; i++) await state.failed(t.channel, 'boom', 502);
    await t.tick();
    expect(await t.view()).toMatchObject({ state: 'open' });
    await waitFor(async () => state.claimProbe(t.channel, 5000), { what: 'the probe to be due' });
    await state.probed(t.channel, true, '');
    // The one trial call is under way: reads leave the decision to it.
    expect(await state.acquire(t.channel, 'trial')).toBeNull();
    t.ctl.now = (id) => ({ n: id.length + 1 });
    await t.tick();
    expect(await t.view()).toMatchObject({ state: 'half_open' });
    await state.release(t.channel, 'trial');
    t.ctl.now = (id) => ({ n: id.length + 2 });
    await t.tick();
    expect(await t.view()).toMatchObject({ state: 'healthy', consecutive_failures: 0 });
  });
});

/** The same end to end: a channel that fails every MJ progress read opens, new work goes elsewhere, and it comes back. */
describe('MJ progress reads and channel health end to end', () => {
  let a: Sim;
  let b: Sim;
  let s: Stack;
  let dir: string;
  beforeAll(async () => {
    a = await startSim({ mjDurationMs: 200 });
    b = await startSim({ mjDurationMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'relayq-reads-'));
    const file = join(dir, 'upstreams.json');
    writeFileSync(
      file,
      JSON.stringify({
        channels: [
          { name: 'mj-a', type: 'mj', baseUrl: a.url, priority: 1 },
          { name: 'mj-b', type: 'mj', baseUrl: b.url },
        ],
      }),
    );
    s = await startStack({ env: { UPSTREAMS_FILE: file, MJ_POLL_INTERVAL_MS: '100' } });
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
  const imagine = async (prompt: string) => (await s.call('POST', '/mj/submit/imagine', { body: { prompt } })).body.result as string;
  const channelOf = async (id: string) => (await waitFor(async () => (await s.call('GET', `/v1/tasks/${id}`, { key: KEYS.admin })).body.channel ?? null)) as string;

  it('opens a channel whose progress reads all fail, sends new work to the healthy one, and closes it again once reads answer', async () => {
    const held = await imagine('held on a --sim-ms 4000');
    expect(await channelOf(held)).toBe('mj-a');
    for (const route of ['list', 'fetch'] as const) a.faults.add({ route, kind: 'status', status: 500 });
    await waitFor(async () => (await admin('mj-a')).state === 'open', { what: 'mj-a to open', timeoutMs: 5000 });
    expect((await admin('mj-a')).recent_errors[0]).toMatchObject({ error: expect.stringMatching(/^(probe failed: )?(progress read failed: )?upstream answered 500/) });
    expect((await admin('mj-b')).state).toBe('healthy');
    const moved = await imagine('while mj-a is down');
    expect(await channelOf(moved)).toBe('mj-b');
    await mjUntil(s.call, moved, ['SUCCESS']);
    // Recovered: the probe makes it half-open, a read that answers closes it, and its task goes on.
    a.faults.clear();
    await waitFor(async () => (await admin('mj-a')).state === 'healthy', { what: 'mj-a to close again', timeoutMs: 10_000 });
    expect(await mjUntil(s.call, held, ['SUCCESS'])).toMatchObject({ status: 'SUCCESS' });
  });
});
