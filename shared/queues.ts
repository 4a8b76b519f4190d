import { Queue, type JobsOptions } from 'bullmq';
import type { QueueName } from './config.js';
import type { Placement } from './ids.js';
import { keyspace, placements } from './keys.js';
import type { RedisClient } from './redis.js';
import { bullTelemetry } from './telemetry/index.js';

export interface Queues {
  /** The BullMQ queue of a placement (created on first use; all share one connection). */
  get(p: Placement): Queue;
  /** A shard for a new task of this queue, spreading load evenly. */
  pick(queue: QueueName): Placement;
  /** The shard a number maps to (e.g. a hash, so one idempotency key always lands on one shard). */
  placementFor(queue: QueueName, n: number): Placement;
  /** Jobs waiting to start in a placement (wait + prioritized + delayed retries). */
  depth(p: Placement): Promise<number>;
  /** How many waiting jobs will start before this one; null when it is not in the wait list. */
  position(p: Placement, jobId: string): Promise<number | null>;
  close(): Promise<void>;
}

export function createQueues(deps: { redis: RedisClient; prefix: string; shards: number }): Queues {
  const cache = new Map<string, Queue>();
  let next = 0;
  const get = (p: Placement) => {
    const id = `${p.queue}:${p.shard}`;
    let q = cache.get(id);
    if (!q) {
      q = new Queue(p.queue, { connection: deps.redis, prefix: keyspace(deps.prefix, p).bullPrefix, ...bullTelemetry() });
      cache.set(id, q);
    }
    return q;
  };
  return {
    get,
    pick(queue) {
      const all = placements(queue, deps.shards);
      next = (next + 1) % all.length;
      return all[next] ?? { queue, shard: 0 };
    },
    placementFor: (queue, n) => ({ queue, shard: Math.abs(n) % deps.shards }),
    async position(p, jobId) {
      const key = get(p).toKey('wait');
      // New jobs are pushed on the left and workers take from the right: the jobs ahead are
      // those to its right. Searching from the right costs what the position is.
      const res = await deps.redis.pipeline().lpos(key, jobId, 'RANK', -1).llen(key).exec();
      const idx = res?.[0]?.[1] as number | null | undefined;
      const len = res?.[1]?.[1] as number | undefined;
      return idx === null || idx === undefined || len === undefined ? null : len - 1 - idx;
    },
    depth: (p) => get(p).getJobCountByTypes('wait', 'prioritized', 'paused'),
    async close() {
      await Promise.all([...cache.values()].map((q) => q.close()));
      cache.clear();
    },
  };
}

export type { JobsOptions };
