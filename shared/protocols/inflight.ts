import { storeCall } from '../errors.js';
import { parseTaskId, type Placement } from '../ids.js';
import { keyspace } from '../keys.js';
import type { RedisClient } from '../redis.js';

/** One task whose work runs upstream, as the tracker follows it. */
export interface Inflight {
  tenant: string;
  channel: string;
  upstreamId: string;
  /** What was last copied from the upstream, so a change is written only when there is one. */
  fingerprint: string;
  /** When the upstream last showed progress (or when following began), epoch ms. */
  changedAt: number;
  /** Since when successful polls have not returned the task, epoch ms; null while it is seen. */
  missingSince: number | null;
  /** Reads in a row that the upstream answered with an error about this task alone (absent: none). */
  readFailures?: number;
  /** Whether the last read of this task failed, so relayq does not know its upstream state now. */
  readFailed?: boolean;
  /** Whether the upstream reported the task's result as made: it is never canceled upstream then. */
  done?: boolean;
  /** What the task waits for although the upstream called it done, said when it times out. */
  waiting?: string;
}

/** Work to cancel upstream: the channel that holds it and the upstream's id. */
export interface UpstreamCancel {
  channel: string;
  id: string;
}

/**
 * Long-running upstream work followed by the tracker, per placement (under its hash tag):
 * `<prefix>:{queue}:inflight` (hash task id → Inflight JSON) and `<prefix>:{queue}:upstream-cancels`
 * (list of UpstreamCancel JSON). Workers write and read both; the API asks for an upstream
 * cancel (`cancelUpstream`), which also stops following the task.
 */
export function createInflight(deps: { redis: RedisClient; prefix: string }) {
  const { redis } = deps;
  const ks = (p: Placement) => keyspace(deps.prefix, p);
  return {
    put: (p: Placement, taskId: string, entry: Inflight) => redis.hset(ks(p).inflight, taskId, JSON.stringify(entry)).then(() => undefined),
    remove: (p: Placement, taskId: string) => redis.hdel(ks(p).inflight, taskId).then(() => undefined),
    async all(p: Placement): Promise<[string, Inflight][]> {
      const raw = await redis.hgetall(ks(p).inflight);
      return Object.entries(raw).map(([id, json]) => [id, JSON.parse(json) as Inflight]);
    },
    /** Stops following a task and queues the cancel of its upstream work, in one step. */
    async cancelUpstream(taskId: string, cancel: UpstreamCancel): Promise<void> {
      const p = parseTaskId(taskId);
      if (!p) return;
      await storeCall(() => redis.multi().hdel(ks(p).inflight, taskId).rpush(ks(p).upstreamCancels, JSON.stringify(cancel)).exec());
    },
    /** Up to `count` queued upstream cancels of a placement, taken off the list. */
    async takeCancels(p: Placement, count: number): Promise<UpstreamCancel[]> {
      return ((await redis.lpop(ks(p).upstreamCancels, count)) ?? []).map((raw) => JSON.parse(raw) as UpstreamCancel);
    },
  };
}

export type InflightRecords = ReturnType<typeof createInflight>;
