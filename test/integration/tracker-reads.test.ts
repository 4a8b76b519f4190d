import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import { createChannelRegistry } from '../../shared/channels/registry.js';
import { loadConfig } from '../../shared/config.js';
import { LUMA_QUEUE, newLumaTask } from '../../shared/families/luma/task.js';
import { newTaskId } from '../../shared/ids.js';
import { globalKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createInflight } from '../../shared/protocols/inflight.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { createTaskStore, type TaskStore } from '../../shared/tasks/store.js';
import { createTracker, type TrackerAdapter } from '../../worker/tracker.js';
import { READ_FAILURE_LIMIT, TaskReadFailed } from '../../worker/tracker-reads.js';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';

/** What a fake upstream says of a task on one read: a state, a failure of that read, or nothing (a read that never answers). */
type Said = { state: 'running' | 'done'; n: number } | TaskReadFailed | 'hang';

/**
 * The tracker over reads that fail for one task alone: the others go on, a read that never
 * answers is cut at the channel's timeout, a task whose reads keep being refused fails with the
 * upstream's message, and nothing is canceled upstream that may hold a finished result.
 */
describe('tracker reads that fail for one task', () => {
  let redis: Redis;
  let queues: Queues;
  let store: TaskStore;
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const config = loadConfig({ QUEUE_PREFIX: prefix, UPSTREAM_TIMEOUT_SECONDS: '1' });
  const registry = createChannelRegistry([defaultChannel({ name: 'one', type: 'luma', baseUrl: 'http://127.0.0.1:9', key: '' })]);
  const p = { queue: LUMA_QUEUE, shard: 0 };
  const inflight = () => createInflight({ redis, prefix });

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    queues = createQueues({ redis, prefix, shards: 1 });
    store = createTaskStore({ redis, queues, config });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await queues.close();
    redis.disconnect();
  });

  /** A tracker over `n` running tasks whose upstream answers are `say(upstreamId)`; cancels are recorded. */
  async function setUp(family: string, n: number, say: (upstreamId: string) => Said, opts: Partial<TrackerAdapter<{ state: string; n: number }>> = {}) {
    // Every tracker of the queue follows all of its in-flight tasks: start from none.
    await redis.del(`${prefix}:{${LUMA_QUEUE}}:inflight`);
    const canceled: string[] = [];
    const adapter: TrackerAdapter<{ state: string; n: number }> = {
      family,
      queues: [LUMA_QUEUE],
      batchSize: 10,
      async read(_channel, ids) {
        const out = new Map<string, { state: string; n: number } | TaskReadFailed>();
        for (const id of ids) {
          const said = say(id);
          if (said === 'hang') await new Promise(() => undefined);
          else out.set(id, said);
        }
        return out;
      },
      cancel: async (_c, id) => void canceled.push(id),
      fingerprint: (u) => `${u.state}:${u.n}`,
      finished: (u) => u.state === 'done',
      changeFor: (u) => (u.state === 'done' ? null : { status: 'running', patch: { progress: u.n } }),
      timeoutMs: 60_000,
      lostAfterMs: 60_000,
      pollIntervalMs: 60_000,
      ...opts,
    };
    const tracker = createTracker({ config, redis, store, registry, log: createLogger('silent') }, adapter);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const task = newLumaTask({ id: newTaskId(p), kind: 'luma.generation', tenant: 'acme', status: 'running', luma: { prompt: `p${i}`, aspect_ratio: null, model: null, parentId: null } });
      await store.create(task);
      await tracker.track(task, p, 'one', `up-${family}-${i}`);
      ids.push(task.id);
    }
    const tick = async () => {
      await redis.del(globalKeys(prefix).trackerLock(family));
      expect(await tracker.tick()).toBe(true);
    };
    return { ids, tick, canceled, task: (i: number) => store.get(ids[i]!) };
  }

  it('keeps a failed read to its own task: the others of the same read get their progress', async () => {
    const t = await setUp('alone', 3, (id) => (id.endsWith('-1') ? new TaskReadFailed('server_error', false) : { state: 'running', n: 42 }));
    await t.tick();
    expect((await t.task(0))?.progress).toBe(42);
    expect((await t.task(2))?.progress).toBe(42);
    expect((await t.task(1))?.status).toBe('running');
  });

  it('takes a thrown read of a lone task as that task’s failure, and cuts a read that never answers at the channel’s timeout', async () => {
    const t = await setUp('lone', 3, (id) => (id.endsWith('-0') ? 'hang' : id.endsWith('-1') ? new TaskReadFailed('boom', false) : { state: 'running', n: 7 }), {
      batchSize: 1,
      async read(_channel, ids) {
        const said = ids[0]!.endsWith('-0') ? 'hang' : ids[0]!.endsWith('-1') ? 'throw' : 'ok';
        if (said === 'hang') await new Promise(() => undefined);
        if (said === 'throw') throw new Error('connection reset');
        return new Map(ids.map((id) => [id, { state: 'running', n: 7 }]));
      },
    });
    await t.tick();
    expect((await t.task(2))?.progress).toBe(7);
    const entries = new Map(await inflight().all(p));
    expect(entries.get(t.ids[0]!)).toMatchObject({ readFailed: true, missingSince: null });
    expect(entries.get(t.ids[1]!)).toMatchObject({ readFailed: true, missingSince: null });
  });

  it('fails a task after READ_FAILURE_LIMIT permanent read failures in a row with the upstream’s message; passing failures do not count', async () => {
    let reads = 0;
    const t = await setUp('refused', 2, (id) => {
      if (id.endsWith('-1')) return new TaskReadFailed('connection reset', false);
      reads++;
      return new TaskReadFailed('generation failed: nsfw', true);
    });
    for (let i = 1; i < READ_FAILURE_LIMIT; i++) await t.tick();
    expect((await t.task(0))?.status).toBe('running');
    await t.tick();
    expect(reads).toBe(READ_FAILURE_LIMIT);
    expect(await t.task(0)).toMatchObject({ status: 'failed', error: { type: 'upstream_error', code: 'upstream_read_failed', message: 'generation failed: nsfw' } });
    for (let i = 0; i < 3; i++) await t.tick();
    expect((await t.task(1))?.status).toBe('running');
    expect(t.canceled).toEqual([]);
  });

  it('takes a 4xx refusal of one task for permanent, but not one about the channel’s key, credit or rate', () => {
    expect(TaskReadFailed.of(new PermanentUpstreamError('expired job', 400)).permanent).toBe(true);
    expect(TaskReadFailed.of(new PermanentUpstreamError('moderated', 403)).permanent).toBe(true);
    for (const status of [401, 402, 429]) expect(TaskReadFailed.of(new PermanentUpstreamError('key', status)).permanent).toBe(false);
    expect(TaskReadFailed.of(new RetryableUpstreamError('server_error', 500)).permanent).toBe(false);
    expect(TaskReadFailed.of(new PermanentUpstreamError('not JSON', 502)).permanent).toBe(false);
  });

  it('never cancels upstream, on a timeout, a task the upstream reported finished or whose last read failed', async () => {
    const t = await setUp('nodelete', 3, (id) => (id.endsWith('-0') ? { state: 'done', n: 100 } : id.endsWith('-1') ? new TaskReadFailed('server_error', false) : { state: 'running', n: 5 }), { timeoutMs: 1 });
    await t.tick();
    await new Promise((r) => setTimeout(r, 5));
    await t.tick();
    for (const i of [0, 1, 2]) expect((await t.task(i))?.status).toBe('failed');
    expect(t.canceled).toEqual(['up-nodelete-2']);
  });
});
