import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import { createChannelRegistry } from '../../shared/channels/registry.js';
import { TASK_QUEUES } from '../../shared/families/catalog.js';
import { globalKeys } from '../../shared/keys.js';
import { createLogger } from '../../shared/logger.js';
import { createInflight } from '../../shared/protocols/inflight.js';
import { createQueues } from '../../shared/queues.js';
import { createTaskStore } from '../../shared/tasks/store.js';
import { createTracker, type TrackerAdapter } from '../../worker/tracker.js';

/**
 * The tracker's read budget for protocols without a batch read (one upstream request per task):
 * at most `readsPerTick` tasks per channel per tick, taking turns, and a task waiting for its
 * turn is never taken for lost.
 */
describe('tracker read budget', () => {
  let redis: Redis;
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const queue = TASK_QUEUES[0]!;
  const config = { QUEUE_PREFIX: prefix, QUEUE_SHARDS: 1, TASK_RETENTION_SECONDS: 60 };
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  /** A tracker over five in-flight tasks on one channel, whose reads are recorded. */
  async function setUp(readsPerTick: number | undefined) {
    const reads: string[][] = [];
    const adapter: TrackerAdapter<{ id: string }> = {
      family: `budget-${readsPerTick}`,
      queues: [queue],
      batchSize: 10,
      ...(readsPerTick ? { readsPerTick } : {}),
      async read(_channel, ids) {
        reads.push(ids);
        return new Map(ids.map((id) => [id, { id }]));
      },
      cancel: async () => undefined,
      fingerprint: () => 'same',
      changeFor: () => null,
      timeoutMs: 60_000,
      lostAfterMs: 1,
      pollIntervalMs: 60_000,
    };
    const p = `${prefix}-${readsPerTick}`;
    const queues = createQueues({ redis, prefix: p, shards: 1 });
    const store = createTaskStore({ redis, queues, config: { ...config, QUEUE_PREFIX: p } });
    const registry = createChannelRegistry([defaultChannel({ name: 'one', type: 'openai', baseUrl: 'http://127.0.0.1:9', key: '' })]);
    const tracker = createTracker({ config: { QUEUE_PREFIX: p, QUEUE_SHARDS: 1, UPSTREAM_TIMEOUT_SECONDS: 60 }, redis, store, registry, log: createLogger('silent') }, adapter);
    const ids = ['a', 'b', 'c', 'd', 'e'].map((x) => `${queue}_${x.repeat(20)}`);
    for (const id of ids) await tracker.track({ id, tenant: 'acme' }, { queue, shard: 0 }, 'one', `up-${id.slice(-1)}`);
    // One round per call: the loop's lock (held for one interval) is let go between rounds.
    const tick = async () => {
      await redis.del(globalKeys(p).trackerLock(adapter.family));
      expect(await tracker.tick()).toBe(true);
    };
    return { tick, reads, inflight: createInflight({ redis, prefix: p }) };
  }

  it('reads at most readsPerTick tasks per channel per tick, every task in turn, none marked missing', async () => {
    const { tick, reads, inflight } = await setUp(2);
    for (let i = 0; i < 3; i++) await tick();
    expect(reads.map((r) => r.length)).toEqual([2, 2, 2]);
    expect(new Set(reads.flat())).toEqual(new Set(['up-a', 'up-b', 'up-c', 'up-d', 'up-e']));
    const entries = await inflight.all({ queue, shard: 0 });
    expect(entries).toHaveLength(5);
    expect(entries.every(([, e]) => e.missingSince === null)).toBe(true);
  });

  it('reads every task every tick without a budget', async () => {
    const { tick, reads } = await setUp(undefined);
    await tick();
    expect(reads.map((r) => r.length)).toEqual([5]);
  });
});
