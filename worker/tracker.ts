import type { Channel } from '../shared/channels/config.js';
import { eachLimited } from '../shared/limited.js';
import type { ChannelRegistry } from '../shared/channels/registry.js';
import type { ChannelState } from '../shared/channels/state.js';
import type { Config } from '../shared/config.js';
import { RetryableUpstreamError } from '../shared/errors.js';
import type { Placement } from '../shared/ids.js';
import { globalKeys, placements } from '../shared/keys.js';
import { createLockedLoop } from '../shared/loop.js';
import type { Logger } from '../shared/logger.js';
import { createInflight, type Inflight } from '../shared/protocols/inflight.js';
import type { RedisClient } from '../shared/redis.js';
import { errorOf, isTerminal, type TaskBase } from '../shared/tasks/model.js';
import type { TaskChange, TaskStore } from '../shared/tasks/store.js';
import type { Archiver } from './archive.js';
import { boundedRead, READ_FAILURE_LIMIT, ReadTally, TaskReadFailed } from './tracker-reads.js';

/**
 * How a family's long-running upstream work is followed: read many upstream tasks at once, say
 * what an upstream task's state means for relayq's task, cancel one. `U` is the upstream task as
 * the adapter reads it (leniently: one odd field never drops it).
 */
export interface TrackerAdapter<U = unknown> {
  /** The family's name (for logs and the tracker's lock). */
  family: string;
  /** The queues whose in-flight tasks it follows (the family's). */
  queues: readonly string[];
  /** Upstream task ids asked for in one read. */
  batchSize: number;
  /**
   * At most this many upstream tasks read per channel per tick, for protocols that read one task
   * per request; the others wait their turn (round robin) without being marked missing. Unset:
   * every in-flight task, every tick.
   */
  readsPerTick?: number;
  /** Reads of one channel made at once within a tick (default 1: one after another). */
  parallelReads?: number;
  /**
   * Reads these upstream tasks from a channel, in one request where the protocol allows it (else
   * one by one, each read's failure kept to its own task: a TaskReadFailed under its id). Ids it
   * does not report are absent from the map (they may be lost upstream). `signal` fires when the
   * read took the channel's timeout (UPSTREAM_TIMEOUT_SECONDS or the channel's own), wall clock.
   * @throws on a failed read of the whole batch (its tasks are kept as they were and polled again
   * next tick; a batch of one task takes the error as that task's, see TaskReadFailed.of).
   */
  read(channel: Channel, upstreamIds: string[], signal: AbortSignal): Promise<Map<string, U | TaskReadFailed>>;
  /** Cancels upstream work (best effort). */
  cancel(channel: Channel, upstreamId: string): Promise<void>;
  /**
   * What of an upstream task counts as progress: a change is written, and the no-progress clock
   * restarts, only when this changes. It holds what the task shows (status, progress, outputs by
   * identity), never what changes on every read (signed URL query strings, expiry times).
   */
  fingerprint(u: U): string;
  /**
   * Whether the upstream reports the task's result as made; such a task is never canceled
   * upstream, even when relayq fails it (its media stay the user's). Unset: never.
   */
  finished?(u: U): boolean;
  /**
   * What a task the upstream calls done still waits for (its result is not whole yet), or null;
   * a task that then makes no progress for `timeoutMs` fails with this as its reason.
   */
  waiting?(u: U): string | null;
  /** What an upstream task's state means for relayq's; null when there is nothing to write. */
  changeFor(u: U, entry: Inflight, now: number): TaskChange | null;
  /** An upstream task with no progress this long fails (ms). */
  timeoutMs: number;
  /** One the upstream stops reporting fails after this long (ms). */
  lostAfterMs: number;
  /** How often in-flight work is polled (ms). */
  pollIntervalMs: number;
}

export interface TrackerDeps {
  config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_SHARDS' | 'UPSTREAM_TIMEOUT_SECONDS'>;
  redis: RedisClient;
  store: TaskStore;
  registry: ChannelRegistry;
  log: Logger;
  /** Archives a finished task's media before its final change is written (ARCHIVE_OUTPUTS). */
  archiver?: Pick<Archiver, 'finishing'> | null;
  /**
   * Channel health, to which each tick's progress reads of a channel are reported (one update per
   * channel per tick, see ReadTally.report); unset: reads do not bear on health.
   */
  channelState?: Pick<ChannelState, 'read' | 'limited'> | null;
}

/** Hands long-running upstream work over to the tracker once the upstream accepted it. */
export interface Tracker {
  track(task: Pick<TaskBase, 'id' | 'tenant'>, p: Placement, channel: string, upstreamId: string): Promise<void>;
  /** One round now (tests); normally the loop runs it every `pollIntervalMs`. */
  tick(): Promise<boolean>;
  start(): void;
  stop(): Promise<void>;
}

const formatDuration = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
};

/**
 * Follows long-running upstream work of one family without holding a worker slot. Every worker
 * serving the family's queues runs the loop; a short Redis lock lets one of them poll per tick,
 * with one read per channel per batch of in-flight tasks. It copies progress as it changes,
 * fails work that makes no progress for `timeoutMs` or that the upstream stops reporting for
 * `lostAfterMs`, cancels upstream what clients canceled, and fails at once the tasks of a channel
 * that was removed from the configuration. Its reads count toward their channel's health as calls
 * do (a dead channel opens even when nothing new is submitted to it). State lives in Redis only,
 * so any worker can take over at the next tick.
 */
export function createTracker<U>(deps: TrackerDeps, adapter: TrackerAdapter<U>): Tracker {
  const { config, redis, store, log } = deps;
  const inflight = createInflight({ redis, prefix: config.QUEUE_PREFIX });
  const allPlacements = () => adapter.queues.flatMap((q) => placements(q, config.QUEUE_SHARDS));
  const cancelUpstream = (channelName: string, id: string) => {
    const channel = deps.registry.get(channelName);
    return channel ? adapter.cancel(channel, id).catch((err: unknown) => log.info({ err, channel: channelName }, 'upstream cancel failed')) : Promise.resolve();
  };

  /** Archives of finished tasks' media under way in this process, by task id. */
  const archiving = new Map<string, Promise<void>>();

  /**
   * Archives a finished task's media in the background, then writes its final change: the tick
   * goes on meanwhile (a slow media host must not stall every other task's progress). Until the
   * change is written the task stays in flight with its old fingerprint, so each tick sees the
   * change again; a failure is logged and tried again that way.
   */
  function archiveThenApply(archiver: Pick<Archiver, 'finishing'>, p: Placement, id: string, entry: Inflight, change: TaskChange) {
    if (archiving.has(id)) return;
    const job = archiver
      .finishing(id, change, log)
      // Null: another worker holds the task's archive claim and will write the change.
      .then((archived) => (archived ? write(p, id, entry, archived) : undefined))
      .then(() => undefined)
      .catch((err: unknown) => log.warn({ err, taskId: id }, 'archiving a finished task failed; trying again'))
      .finally(() => archiving.delete(id));
    archiving.set(id, job);
  }

  /**
   * Writes a change; returns whether the task is still to be followed, or 'later' when nothing is
   * written yet and the same change must be seen again next tick (its media are being archived).
   */
  async function apply(p: Placement, id: string, entry: Inflight, change: TaskChange): Promise<boolean | 'later'> {
    // The final change carries relayq's URLs, so webhooks and SSE never show the upstream's.
    if (change.status === 'succeeded' && deps.archiver) {
      archiveThenApply(deps.archiver, p, id, entry, change);
      return 'later';
    }
    return write(p, id, entry, change);
  }

  async function write(p: Placement, id: string, entry: Inflight, change: TaskChange): Promise<boolean> {
    const res = await store.update({ id, tenant: entry.tenant }, change);
    const ended = !res || isTerminal(res.status);
    if (ended) {
      await inflight.remove(p, id);
      // Finished here (e.g. canceled by the client) while the upstream still works on it.
      if (res && !res.applied && res.status === 'canceled') await cancelUpstream(entry.channel, entry.upstreamId);
    }
    return !ended;
  }

  /** The entry after a successful read: nothing missing or failing any more. */
  const seen = (entry: Inflight): Inflight => {
    const { readFailures: _f, readFailed: _r, ...rest } = entry;
    return { ...rest, missingSince: null };
  };
  const unseen = (entry: Inflight) => entry.missingSince !== null || entry.readFailed !== undefined || entry.readFailures !== undefined;

  /**
   * A failed read of one task: counted when permanent (READ_FAILURE_LIMIT in a row fail the task
   * with the upstream's message), remembered either way (its upstream state is unknown now).
   * Returns the entry to go on with, or null when the task ended.
   */
  async function readFailed(p: Placement, id: string, entry: Inflight, err: TaskReadFailed, now: number): Promise<Inflight | null> {
    const failures = (entry.readFailures ?? 0) + (err.permanent ? 1 : 0);
    if (failures >= READ_FAILURE_LIMIT) {
      log.warn({ taskId: id, channel: entry.channel, failures, err: err.message }, 'upstream keeps answering this task with an error');
      // No upstream cancel: relayq does not know what the upstream holds.
      await apply(p, id, entry, { status: 'failed', patch: { completed_at: now, error: errorOf('upstream_error', 'upstream_read_failed', err.message) } });
      return null;
    }
    if (entry.readFailed && failures === (entry.readFailures ?? 0)) return entry;
    const next = { ...entry, readFailed: true, ...(failures > 0 ? { readFailures: failures } : {}) };
    await inflight.put(p, id, next);
    return next;
  }

  async function follow(p: Placement, id: string, entry: Inflight, u: U | TaskReadFailed | undefined, polled: boolean, now: number) {
    if (u instanceof TaskReadFailed) {
      const next = await readFailed(p, id, entry, u, now);
      if (!next) return;
      entry = next;
    } else if (u !== undefined) {
      if (!entry.done && adapter.finished?.(u)) {
        entry = { ...entry, done: true };
        await inflight.put(p, id, entry);
      }
      const fp = adapter.fingerprint(u);
      if (fp !== entry.fingerprint) {
        const change = adapter.changeFor(u, entry, now);
        const tracking = change ? await apply(p, id, entry, change) : true;
        // Not written: the fingerprint stays, so the next tick sees the change again.
        if (tracking === 'later') return;
        if (tracking) {
          const { waiting: _w, ...rest } = seen(entry);
          const waiting = adapter.waiting?.(u);
          await inflight.put(p, id, { ...rest, fingerprint: fp, changedAt: now, ...(waiting ? { waiting } : {}) });
        }
        return;
      }
      if (unseen(entry)) await inflight.put(p, id, (entry = seen(entry)));
    } else if (polled && entry.missingSince === null) {
      await inflight.put(p, id, { ...entry, missingSince: now });
      return;
    }
    const missing = entry.missingSince !== null;
    const lost = missing && now - entry.missingSince! > adapter.lostAfterMs;
    const stale = now - entry.changedAt > adapter.timeoutMs;
    if (lost || stale) {
      // A task the upstream no longer returns gets that reason, whichever limit came first.
      const message = missing
        ? `upstream no longer reports this task (missing for ${Math.round((now - entry.missingSince!) / 1000)} s)`
        : entry.waiting
          ? `${entry.waiting} (no progress for ${formatDuration(adapter.timeoutMs)})`
          : `upstream made no progress for ${formatDuration(adapter.timeoutMs)}`;
      log.warn({ taskId: id, channel: entry.channel, missing }, 'upstream task timed out');
      await apply(p, id, entry, { status: 'failed', patch: { completed_at: now, error: errorOf('timeout', missing ? 'upstream_lost' : 'upstream_timeout', message) } });
      // Stopped upstream only when relayq knows it is still unfinished there: a finished one holds
      // the user's result, and one whose last read failed may have finished meanwhile.
      if (!entry.done && !entry.readFailed) await cancelUpstream(entry.channel, entry.upstreamId);
    }
  }

  /** Where each channel's round robin resumes next tick (this process's own: only fairness depends on it). */
  const turns = new Map<string, number>();

  /** The entries read this tick, within `readsPerTick`; the rest wait (they are only checked for timeouts). */
  function thisTurn(name: string, entries: [Placement, string, Inflight][]): { read: typeof entries; wait: typeof entries } {
    const budget = adapter.readsPerTick ?? entries.length;
    if (budget >= entries.length) return { read: entries, wait: [] };
    const sorted = [...entries].sort((a, b) => (a[1] < b[1] ? -1 : 1));
    const start = (turns.get(name) ?? 0) % sorted.length;
    turns.set(name, start + budget);
    const rotated = [...sorted.slice(start), ...sorted.slice(0, start)];
    return { read: rotated.slice(0, budget), wait: rotated.slice(budget) };
  }

  /** Polls every in-flight task of every shard: one read per channel per batch. */
  async function pollAll(now: number) {
    const byChannel = new Map<string, [Placement, string, Inflight][]>();
    for (const p of allPlacements()) {
      for (const [id, entry] of await inflight.all(p)) {
        const list = byChannel.get(entry.channel) ?? [];
        list.push([p, id, entry]);
        byChannel.set(entry.channel, list);
      }
    }
    for (const [name, entries] of byChannel) {
      const channel = deps.registry.get(name);
      if (!channel) {
        // The channel that holds these tasks was removed from the configuration: nobody else has them.
        const message = `channel ${name}, which holds this task upstream, is no longer configured`;
        log.warn({ channel: name, tasks: entries.length }, 'tasks on a channel that is no longer configured fail');
        await Promise.all(entries.map(([p, id, entry]) => apply(p, id, entry, { status: 'failed', patch: { completed_at: now, error: errorOf('upstream_error', 'channel_removed', message) } })));
        continue;
      }
      const { read, wait } = thisTurn(name, entries);
      await Promise.all(wait.map(([p, id, entry]) => follow(p, id, entry, undefined, false, now)));
      const batches: (typeof read)[] = [];
      for (let i = 0; i < read.length; i += adapter.batchSize) batches.push(read.slice(i, i + adapter.batchSize));
      const timeoutMs = (channel.timeoutSeconds ?? config.UPSTREAM_TIMEOUT_SECONDS) * 1000;
      const tally = new ReadTally();
      await eachLimited(batches, adapter.parallelReads ?? 1, async (batch) => {
        let found: Map<string, U | TaskReadFailed> | null = null;
        let failure: TaskReadFailed | null = null;
        try {
          found = await boundedRead(channel, timeoutMs, (signal) => adapter.read(channel, batch.map(([, , e]) => e.upstreamId), signal));
        } catch (err) {
          // A failing upstream fails every poll: its message, not a stack each time.
          log.warn({ channel: name, tasks: batch.length, err: err instanceof RetryableUpstreamError ? err.message : err }, 'upstream poll failed');
          tally.failure(err);
          // A read of one task failed for that task; a batch's failure says nothing about any one of them.
          failure = batch.length === 1 ? TaskReadFailed.of(err) : new TaskReadFailed(err instanceof Error ? err.message : String(err), false);
        }
        // Ids the read did not report (lost upstream, or a 404 for one id) say nothing about the channel.
        for (const [, , entry] of found ? batch : []) {
          const u = found!.get(entry.upstreamId);
          if (u instanceof TaskReadFailed) tally.failure(u);
          else if (u !== undefined) tally.answer(1);
        }
        await Promise.all(batch.map(([p, id, entry]) => follow(p, id, entry, found?.get(entry.upstreamId) ?? failure ?? undefined, found !== null, now)));
      });
      if (deps.channelState) await tally.report(deps.channelState, channel, log);
    }
  }

  const loop = createLockedLoop({
    redis,
    lockKey: globalKeys(config.QUEUE_PREFIX).trackerLock(adapter.family),
    intervalMs: adapter.pollIntervalMs,
    log,
    name: `${adapter.family} tracker`,
    async tick() {
      for (const p of allPlacements()) for (const c of await inflight.takeCancels(p, 100)) await cancelUpstream(c.channel, c.id);
      await pollAll(Date.now());
    },
  });

  return {
    async track(task, p, channel, upstreamId) {
      await inflight.put(p, task.id, { tenant: task.tenant, channel, upstreamId, fingerprint: '', changedAt: Date.now(), missingSince: null });
    },
    tick: loop.tick,
    start: loop.start,
    async stop() {
      await loop.stop();
      // Archives under way finish (each within ARCHIVE_TIMEOUT_SECONDS); one cut short by the
      // process ending is done again by another worker once its claim lapses.
      await Promise.allSettled(archiving.values());
    },
  };
}
