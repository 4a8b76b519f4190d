import type { Config } from '../shared/config.js';
import type { Placement } from '../shared/ids.js';
import { globalKeys, keyspace, placements } from '../shared/keys.js';
import { createLockedLoop } from '../shared/loop.js';
import type { Logger } from '../shared/logger.js';
import type { UpstreamTask } from '../shared/mj/protocol.js';
import type { RedisClient } from '../shared/redis.js';
import { errorOf, isTerminal, type Task } from '../shared/tasks/model.js';
import type { TaskChange, TaskStore } from '../shared/tasks/store.js';
import type { MjClient } from './upstream/mj-client.js';

/** One in-flight upstream task, stored in the `inflight` hash of its placement. */
export interface Inflight {
  tenant: string;
  channel: string;
  upstreamId: string;
  /** What we last copied from the upstream, to write only on change. */
  fingerprint: string;
  /** When the upstream last showed progress (or when tracking began). */
  changedAt: number;
  /** Since when successful polls have not returned the task; null while it is seen. */
  missingSince: number | null;
}

export interface TrackerDeps {
  config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_SHARDS' | 'MJ_UPSTREAM_TIMEOUT_SECONDS' | 'MJ_POLL_INTERVAL_MS'>;
  redis: RedisClient;
  store: TaskStore;
  log: Logger;
  /** The client of a channel by name; null when no channel has that name (any more). */
  client: (channel: string) => MjClient | null;
}

/** Upstream ids asked for in one list-by-condition request. */
const BATCH = 500;

const fingerprintOf = (u: UpstreamTask) =>
  [u.status, u.progress, u.imageUrl, u.failReason, u.buttons?.length ?? 0, String(u.properties?.finalPrompt ?? '')].join('|');

/** The properties relayed to clients: the results, never upstream-internal ids. */
function clientProperties(u: UpstreamTask): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['finalPrompt', 'finalZhPrompt', 'promptEn']) if (u.properties?.[k] !== undefined) out[k] = u.properties[k];
  if (u.promptEn) out.promptEn = u.promptEn;
  return out;
}

/**
 * What an upstream task's state means for ours; null when there is nothing to write (an unknown
 * or missing status: the task stays followed). `u` is already read leniently (readUpstreamTask).
 */
export function changeFor(u: UpstreamTask, entry: Inflight, now: number): TaskChange | null {
  const upstream = { channel: entry.channel, id: entry.upstreamId, modalId: null, status: u.status ?? null };
  const base = { image_url: u.imageUrl ?? null, properties: clientProperties(u), upstream };
  switch (u.status) {
    case 'SUCCESS':
      return { status: 'succeeded', patch: { ...base, progress: 100, completed_at: now, buttons: u.buttons ?? [] } };
    case 'FAILURE':
    case 'CANCEL':
      return {
        status: 'failed',
        patch: { ...base, completed_at: now, error: errorOf('upstream_error', 'upstream_failed', u.failReason || `upstream task ended in ${u.status}`) },
      };
    case 'SUBMITTED':
    case 'IN_PROGRESS':
    case 'NOT_START':
      return { status: 'running', patch: { ...base, progress: u.progress ?? 0 } };
    default:
      return null;
  }
}

/**
 * Follows MJ tasks upstream without holding a worker slot. Every worker serving `mj` runs the
 * loop; a short Redis lock lets one of them poll per tick, with one batched
 * `list-by-condition` request per upstream for all in-flight tasks. State lives in Redis only,
 * so any worker can take over at the next tick.
 */
export function createMjTracker(deps: TrackerDeps) {
  const { config, redis, store, log } = deps;
  const prefix = config.QUEUE_PREFIX;
  const timeoutMs = config.MJ_UPSTREAM_TIMEOUT_SECONDS * 1000;
  // An upstream that stops returning a task gets a shorter leash than one that is slow.
  const lostAfterMs = Math.min(timeoutMs, 120_000);

  async function track(task: Pick<Task, 'id' | 'tenant'>, p: Placement, channel: string, upstreamId: string): Promise<void> {
    const entry: Inflight = { tenant: task.tenant, channel, upstreamId, fingerprint: '', changedAt: Date.now(), missingSince: null };
    await redis.hset(keyspace(prefix, p).inflight, task.id, JSON.stringify(entry));
  }

  /** Writes a change; returns whether the task is still to be followed. */
  async function apply(p: Placement, id: string, entry: Inflight, change: TaskChange): Promise<boolean> {
    const res = await store.update({ id, tenant: entry.tenant }, change);
    const inflight = keyspace(prefix, p).inflight;
    const ended = !res || isTerminal(res.status);
    if (ended) {
      await redis.hdel(inflight, id);
      // Finished here (e.g. canceled by the client) while the upstream still works on it.
      if (res && !res.applied && res.status === 'canceled') await deps.client(entry.channel)?.cancel(entry.upstreamId).catch(() => undefined);
    }
    return !ended;
  }

  async function drainCancels(p: Placement) {
    const key = keyspace(prefix, p).upstreamCancels;
    const items = (await redis.lpop(key, 100)) ?? [];
    for (const raw of items) {
      const { channel, id } = JSON.parse(raw) as { channel: string; id: string };
      await deps
        .client(channel)
        ?.cancel(id)
        .catch((err: unknown) => log.info({ err, channel }, 'upstream cancel failed'));
    }
  }

  /** Polls every in-flight task of every shard: one request per upstream (per BATCH ids). */
  async function pollAll(now: number) {
    const byChannel = new Map<string, [Placement, string, Inflight][]>();
    for (const p of placements('mj', config.QUEUE_SHARDS)) {
      const raw = await redis.hgetall(keyspace(prefix, p).inflight);
      for (const [id, json] of Object.entries(raw)) {
        const entry = JSON.parse(json) as Inflight;
        const list = byChannel.get(entry.channel) ?? [];
        list.push([p, id, entry]);
        byChannel.set(entry.channel, list);
      }
    }
    for (const [channel, entries] of byChannel) {
      const client = deps.client(channel);
      if (!client) {
        // The channel that holds these tasks was removed from the configuration: nobody else has them.
        const message = `channel ${channel}, which holds this task upstream, is no longer configured`;
        log.warn({ channel, tasks: entries.length }, 'tasks on a channel that is no longer configured fail');
        await Promise.all(entries.map(([p, id, entry]) => apply(p, id, entry, { status: 'failed', patch: { completed_at: now, error: errorOf('upstream_error', 'channel_removed', message) } })));
        continue;
      }
      for (let i = 0; i < entries.length; i += BATCH) {
        const batch = entries.slice(i, i + BATCH);
        let found: Map<string, UpstreamTask> | null = null;
        try {
          const list = await client.listByCondition(batch.map(([, , e]) => e.upstreamId));
          found = new Map(list.map((u) => [u.id, u]));
        } catch (err) {
          log.warn({ err, channel, tasks: batch.length }, 'upstream poll failed');
        }
        await Promise.all(batch.map(([p, id, entry]) => follow(p, id, entry, found?.get(entry.upstreamId), found !== null, now)));
      }
    }
  }

  async function follow(p: Placement, id: string, entry: Inflight, u: UpstreamTask | undefined, polled: boolean, now: number) {
    const inflight = keyspace(prefix, p).inflight;
    if (u) {
      const fp = fingerprintOf(u);
      if (fp !== entry.fingerprint) {
        const change = changeFor(u, entry, now);
        const tracking = change ? await apply(p, id, entry, change) : true;
        if (tracking) await redis.hset(inflight, id, JSON.stringify({ ...entry, fingerprint: fp, changedAt: now, missingSince: null }));
        return;
      }
      if (entry.missingSince !== null) await redis.hset(inflight, id, JSON.stringify({ ...entry, missingSince: null }));
    } else if (polled && entry.missingSince === null) {
      await redis.hset(inflight, id, JSON.stringify({ ...entry, missingSince: now }));
      return;
    }
    const missing = entry.missingSince !== null;
    const lost = missing && now - entry.missingSince! > lostAfterMs;
    const stale = now - entry.changedAt > timeoutMs;
    if (lost || stale) {
      // A task the upstream no longer returns gets that reason, whichever limit came first.
      const message = missing
        ? `upstream no longer reports this task (missing for ${Math.round((now - entry.missingSince!) / 1000)} s)`
        : `upstream made no progress for ${formatDuration(timeoutMs)}`;
      log.warn({ taskId: id, channel: entry.channel, missing }, 'upstream task timed out');
      await apply(p, id, entry, { status: 'failed', patch: { completed_at: now, error: errorOf('timeout', missing ? 'upstream_lost' : 'upstream_timeout', message) } });
      await deps.client(entry.channel)?.cancel(entry.upstreamId).catch(() => undefined);
    }
  }

  const loop = createLockedLoop({
    redis,
    lockKey: globalKeys(prefix).trackerLock('mj'),
    intervalMs: config.MJ_POLL_INTERVAL_MS,
    log,
    name: 'mj tracker',
    async tick() {
      for (const p of placements('mj', config.QUEUE_SHARDS)) await drainCancels(p);
      await pollAll(Date.now());
    },
  });

  return { track, tick: loop.tick, start: loop.start, stop: loop.stop };
}

export type MjTracker = ReturnType<typeof createMjTracker>;

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}
