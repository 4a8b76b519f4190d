import type { Channel } from '../../../shared/channels/config.js';
import type { Config } from '../../../shared/config.js';
import { lumaFamily } from '../../../shared/families/luma/family.js';
import { effectiveState, videoUrlOf, type UpstreamGeneration } from '../../../shared/families/luma/protocol.js';
import type { LumaGeneration, LumaTask } from '../../../shared/families/luma/task.js';
import { urlIdentity } from '../../../shared/fingerprint.js';
import type { Inflight } from '../../../shared/protocols/inflight.js';
import { errorOf } from '../../../shared/tasks/model.js';
import type { TaskChange } from '../../../shared/tasks/store.js';
import type { TrackerAdapter } from '../../tracker.js';
import { TaskReadFailed } from '../../tracker-reads.js';
import type { LumaClient } from './client.js';

/** Generations read per channel per tick (Luma-API reads one at a time), and at once. */
const READS_PER_TICK = 100;
const PARALLEL_READS = 8;

/** What shows progress: state, progress, reason and the media by what they name (signed links are re-signed on every read). */
const fingerprintOf = (g: UpstreamGeneration) =>
  [effectiveState(g), g.rawState, urlIdentity(videoUrlOf(g)), urlIdentity(g.video?.download_url), g.failure_reason, urlIdentity(g.thumbnail?.url), urlIdentity(g.last_frame?.url), g.progress].join('|');

/** What of an upstream generation relayq keeps (the media as the upstream gave them, never its ids). */
export function generationOf(g: UpstreamGeneration, state: LumaGeneration['state']): LumaGeneration {
  return {
    state,
    video: g.video,
    video_raw: g.video_raw,
    thumbnail: g.thumbnail,
    last_frame: g.last_frame,
    failure_reason: g.failure_reason,
    estimate_wait_seconds: g.estimate_wait_seconds,
  };
}

/**
 * What an upstream generation's state means for the task; null when there is nothing to write
 * (a state nobody knows: the task stays followed, and times out if it never moves). A generation
 * is done only once its video URL exists: `completed` without one is still running.
 */
export function changeFor(g: UpstreamGeneration, entry: Inflight, now: number): TaskChange<LumaTask> | null {
  const state = effectiveState(g);
  if (!state) return null;
  const upstream = { channel: entry.channel, id: entry.upstreamId, status: g.rawState };
  const generation = generationOf(g, state);
  switch (state) {
    case 'completed':
      return { status: 'succeeded', patch: { generation, upstream, progress: 100, completed_at: now } };
    case 'failed':
      return {
        status: 'failed',
        patch: { generation, upstream, completed_at: now, error: errorOf('upstream_error', 'upstream_failed', g.failure_reason ?? `upstream generation ended ${g.rawState ?? 'failed'}`) },
      };
    default:
      return { status: 'running', patch: { generation, upstream, ...(g.progress !== null ? { progress: Math.min(g.progress, 99) } : {}) } };
  }
}

/**
 * How Luma work is followed: Luma-API has no batch read, so one `GET {channel}/luma/generations/{id}`
 * per generation, at most READS_PER_TICK per channel per tick (taking turns), PARALLEL_READS at
 * once. A generation with no progress for UPSTREAM_TASK_TIMEOUT_SECONDS fails (a `completed`
 * that never gets its video URL included); one the upstream answers 404 for fails after at most
 * 2 minutes. Luma-API has no cancel: a canceled task is no longer followed, and the upstream
 * generation runs to its end unused.
 */
export function lumaTrackerAdapter(config: Pick<Config, 'UPSTREAM_TASK_TIMEOUT_SECONDS' | 'UPSTREAM_POLL_INTERVAL_MS'>, client: (channel: Channel) => LumaClient): TrackerAdapter<UpstreamGeneration> {
  const timeoutMs = config.UPSTREAM_TASK_TIMEOUT_SECONDS * 1000;
  return {
    family: lumaFamily.name,
    queues: lumaFamily.queues.map((q) => q.name),
    // One id per read: a generation the upstream fails to answer for stays as it was, alone.
    batchSize: 1,
    readsPerTick: READS_PER_TICK,
    parallelReads: PARALLEL_READS,
    async read(channel, ids, signal) {
      const found = new Map<string, UpstreamGeneration | TaskReadFailed>();
      for (const id of ids) {
        try {
          const g = await client(channel).get(id, signal);
          if (g) found.set(id, g);
        } catch (err) {
          found.set(id, TaskReadFailed.of(err));
        }
      }
      return found;
    },
    cancel: async () => undefined,
    finished: (g) => effectiveState(g) === 'completed',
    fingerprint: fingerprintOf,
    changeFor,
    timeoutMs,
    lostAfterMs: Math.min(timeoutMs, 120_000),
    pollIntervalMs: config.UPSTREAM_POLL_INTERVAL_MS,
  };
}
