import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import { createChannelRegistry } from '../../shared/channels/registry.js';
import { loadConfig } from '../../shared/config.js';
import { LUMA_QUEUE, newLumaTask } from '../../shared/families/luma/task.js';
import { newTaskId } from '../../shared/ids.js';
import { createLogger } from '../../shared/logger.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { createTaskStore, type TaskStore } from '../../shared/tasks/store.js';
import { createTracker, type TrackerAdapter } from '../../worker/tracker.js';
import { waitFor } from '../support/stack.js';

/** The tracker reading a protocol one task at a time: a bounded number of reads per tick, taking turns. */
describe('tracker reads per tick', () => {
  let redis: Redis;
  let queues: Queues;
  let store: TaskStore;
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const config = loadConfig({ QUEUE_PREFIX: prefix });
  const registry = createChannelRegistry([defaultChannel({ name: 'one', type: 'luma', baseUrl: 'http://127.0.0.1:9', key: '' })]);

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

  /** A tracker over five running tasks whose upstream never changes; `reads` lists each tick's reads. */
  async function setUp(family: string, opts: Pick<Partial<TrackerAdapter>, 'readsPerTick' | 'parallelReads'>) {
    const reads: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const adapter: TrackerAdapter<string> = {
      family,
      queues: [LUMA_QUEUE],
      batchSize: 1,
      async read(_channel, ids) {
        reads.at(-1)!.push(...ids);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return new Map(ids.map((id) => [id, 'same']));
      },
      cancel: async () => undefined,
      fingerprint: (u) => u,
      changeFor: () => null,
      timeoutMs: 60_000,
      lostAfterMs: 60_000,
      pollIntervalMs: 1,
      ...opts,
    };
    const tracker = createTracker({ config, redis, store, registry, log: createLogger('silent') }, adapter);
    const p = { queue: LUMA_QUEUE, shard: 0 };
    for (let i = 0; i < 5; i++) {
      const task = newLumaTask({ id: newTaskId(p), kind: 'luma.generation', tenant: 'acme', status: 'running', luma: { prompt: `p${i}`, aspect_ratio: null, model: null, parentId: null } });
      await store.create(task);
      await tracker.track(task, p, 'one', `up-${family}-${i}`);
    }
    const tick = async () => {
      reads.push([]);
      // The tick runs once this process holds the tracker's lock (held for one 1 ms interval).
      await waitFor(() => tracker.tick(), { what: 'the tracker lock' });
    };
    return { reads, tick, maxInFlight: () => maxInFlight };
  }

  it('reads at most readsPerTick tasks per channel per tick, parallelReads at once, every task in turn', async () => {
    const t = await setUp('turns', { readsPerTick: 2, parallelReads: 2 });
    for (let i = 0; i < 3; i++) await t.tick();
    expect(t.reads.map((r) => r.length)).toEqual([2, 2, 2]);
    expect(new Set(t.reads.flat())).toEqual(new Set([0, 1, 2, 3, 4].map((i) => `up-turns-${i}`)));
    expect(t.maxInFlight()).toBe(2);
    await redis.del(`${prefix}:{${LUMA_QUEUE}}:inflight`);
  });

  it('reads every task each tick, one after another, when the adapter sets no bound', async () => {
    const t = await setUp('all', {});
    await t.tick();
    expect(t.reads[0]!.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `up-all-${i}`));
    expect(t.maxInFlight()).toBe(1);
  });
});
