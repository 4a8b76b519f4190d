import type { QueueName } from './config.js';
import type { Placement } from './ids.js';

/**
 * The Redis key layout (a wire format: renaming a key is a migration).
 *
 * Everything one atomic operation touches carries the hash tag of its queue and shard —
 * `{mj}`, `{text}`, or `{text:3}` for shard 3 — so it stays in one Redis Cluster slot:
 *
 *   <prefix>:{mj}:mj:*                 BullMQ's own keys (BullMQ prefix `<prefix>:{mj}`)
 *   <prefix>:{mj}:task:<id>            task hash, one JSON value per field
 *   <prefix>:{mj}:blobs:<id>           binary inputs and outputs of the task (hash of buffers)
 *   <prefix>:{mj}:events:<id>          list of the task's changes (SSE, webhooks, waiting calls)
 *   <prefix>:{mj}:history:<id>         the same, folded when the task finished (status changes only)
 *   <prefix>:{mj}:tokens:<id>          stream of a streaming completion's chunks
 *   <prefix>:{mj}:readers:<id>         how many clients are reading that stream now (all API nodes)
 *   <prefix>:{mj}:idem:<t>:<hash>      Idempotency-Key → task id, 24 h
 *   <prefix>:{text}:call:<t>:<hash>    a plain OpenAI call's hash → task id, for SDK retries to join
 *   <prefix>:{mj}:webhook-due          zset of task ids with webhook events to deliver, by when
 *   <prefix>:{mj}:webhook:<id>         webhook delivery state of a task (cursor, event in flight)
 *   <prefix>:{mj}:deliveries:<id>      list of webhook delivery attempts
 *   <prefix>:{mj}:tenant:<t>:tasks     zset of the tenant's task ids by creation time
 *   <prefix>:{mj}:tenant:<t>:active    zset of the tenant's unfinished task ids
 *   <prefix>:{mj}:inflight             hash id → upstream tracking record (MJ tracker)
 *   <prefix>:{mj}:upstream-cancels     list of upstream ids to cancel (MJ tracker)
 *
 * Keys that are not part of a multi-key operation live outside any tag (`<prefix>:blob-sweep`,
 * locks, rate windows).
 */
export function tag(p: Placement): string {
  return p.shard === 0 ? `{${p.queue}}` : `{${p.queue}:${p.shard}}`;
}

/** Keyspaces by `<prefix>:<tag>` (a handful per process: prefixes × queues × shards). */
const keyspaces = new Map<string, Keyspace>();

/**
 * The keys of one queue and shard under `prefix`. The object is built once per prefix and
 * placement and shared (frozen): this runs on every request.
 */
export function keyspace(prefix: string, p: Placement): Keyspace {
  const base = `${prefix}:${tag(p)}`;
  let ks = keyspaces.get(base);
  if (!ks) {
    ks = Object.freeze(keysUnder(base));
    keyspaces.set(base, ks);
  }
  return ks;
}

function keysUnder(base: string) {
  return {
    /** BullMQ `prefix` option: its keys become `<base>:<queue>:...`. */
    bullPrefix: base,
    task: (id: string) => `${base}:task:${id}`,
    blobs: (id: string) => `${base}:blobs:${id}`,
    events: (id: string) => `${base}:events:${id}`,
    history: (id: string) => `${base}:history:${id}`,
    tokens: (id: string) => `${base}:tokens:${id}`,
    readers: (id: string) => `${base}:readers:${id}`,
    idempotency: (tenant: string, keyHash: string) => `${base}:idem:${tenant}:${keyHash}`,
    recentCall: (tenant: string, callHash: string) => `${base}:call:${tenant}:${callHash}`,
    webhookDue: `${base}:webhook-due`,
    webhookState: (id: string) => `${base}:webhook:${id}`,
    deliveries: (id: string) => `${base}:deliveries:${id}`,
    tenantTasks: (tenant: string) => `${base}:tenant:${tenant}:tasks`,
    tenantActive: (tenant: string) => `${base}:tenant:${tenant}:active`,
    inflight: `${base}:inflight`,
    upstreamCancels: `${base}:upstream-cancels`,
  };
}

export type Keyspace = Readonly<ReturnType<typeof keysUnder>>;

/** Every placement of a queue, shard 0 first. */
export function placements(queue: QueueName, shards: number): Placement[] {
  return Array.from({ length: shards }, (_, shard) => ({ queue, shard }));
}

export const globalKeys = (prefix: string) => ({
  rate: (tenant: string, window: number) => `${prefix}:rate:${tenant}:${window}`,
  trackerLock: (queue: QueueName) => `${prefix}:lock:tracker:${queue}`,
  cancelChannel: `${prefix}:cancel`,
  /** Announces every change of one task (published by the update script). */
  taskChannel: (id: string) => `${prefix}:task:${id}`,
  models: `${prefix}:models`,
  webhookSecret: (tenant: string) => `${prefix}:webhook-secret:${tenant}`,
  webhookPumpLock: `${prefix}:lock:webhook-pump`,
  proberLock: `${prefix}:lock:channel-prober`,
  /** Cluster-wide metrics (counters and histogram buckets written by every process). */
  metrics: `${prefix}:metrics`,
  /** zset of task ids whose stored objects (S3 blob store) are checked for deletion, by when (ms). */
  blobSweep: `${prefix}:blob-sweep`,
  blobSweepLock: `${prefix}:lock:blob-sweep`,
  /** Failed dashboard sign-ins from one client address in the current window (api/routes/queues-board.ts). */
  adminLoginFailures: (address: string) => `${prefix}:admin-login-failures:${address}`,
  /** Held by the worker archiving a finished task's media (ARCHIVE_OUTPUTS). */
  archiveClaim: (id: string) => `${prefix}:lock:archive:${id}`,
});
