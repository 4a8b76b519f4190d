import type { Channel } from '../../../shared/channels/config.js';
import type { Config } from '../../../shared/config.js';
import { videoFamily } from '../../../shared/families/video/family.js';
import type { VideoReport, VideoTask } from '../../../shared/families/video/task.js';
import type { UpstreamVideo } from '../../../shared/families/video/upstream.js';
import { urlIdentity } from '../../../shared/fingerprint.js';
import type { Inflight } from '../../../shared/protocols/inflight.js';
import type { TaskChange } from '../../../shared/tasks/store.js';
import type { TrackerAdapter } from '../../tracker.js';
import { TaskReadFailed } from '../../tracker-reads.js';
import type { VideoClient } from './client.js';

/**
 * The Videos API has no batch read: each video is one `GET /videos/{id}`, read on its own (one
 * video whose read fails or hangs holds no other), PARALLEL_READS at once; at most READS_PER_TICK
 * videos per channel per tick are read, the others wait their turn.
 */
const PARALLEL_READS = 10;
const READS_PER_TICK = 50;

/** What of the upstream's video relayq copies onto the task. */
export function reportOf(u: UpstreamVideo): VideoReport {
  return { model: u.model, seconds: u.seconds, size: u.size, expires_at: u.expires_at, video_url: u.video_url };
}

/** What shows progress: the expiry and a link's signature change without the video changing. */
const fingerprintOf = (u: UpstreamVideo) => JSON.stringify([u.status, u.progress, u.error, u.model, u.seconds, u.size, urlIdentity(u.video_url)]);

/**
 * What an upstream video's state means for the task; null when there is nothing to write (a
 * status relayq cannot map: the video stays followed). A `failed` video keeps the upstream's
 * error code and message (`moderation_blocked`, …).
 */
export function changeFor(u: UpstreamVideo, entry: Inflight, now: number): TaskChange<VideoTask> | null {
  const base = { upstream: { channel: entry.channel, id: entry.upstreamId, status: u.status }, reported: reportOf(u) };
  switch (u.status) {
    case 'completed':
      return { status: 'succeeded', patch: { ...base, progress: 100, completed_at: now } };
    case 'failed':
      return {
        status: 'failed',
        patch: { ...base, completed_at: now, error: { type: 'upstream_error', code: u.error?.code ?? 'video_generation_failed', message: u.error?.message ?? 'the upstream reported the video as failed' } },
      };
    case 'queued':
    case 'in_progress':
      return { status: 'running', patch: { ...base, ...(u.progress !== null ? { progress: Math.min(u.progress, 99) } : {}) } };
    default:
      return null;
  }
}

/**
 * How videos are followed: one GET per video (a 404 means the upstream no longer has it: lost
 * after at most 2 minutes), no progress for UPSTREAM_TASK_TIMEOUT_SECONDS fails it, a canceled or
 * deleted video is deleted upstream too.
 */
export function videoTrackerAdapter(config: Pick<Config, 'UPSTREAM_TASK_TIMEOUT_SECONDS' | 'UPSTREAM_POLL_INTERVAL_MS'>, client: (channel: Channel) => VideoClient): TrackerAdapter<UpstreamVideo> {
  const timeoutMs = config.UPSTREAM_TASK_TIMEOUT_SECONDS * 1000;
  return {
    family: videoFamily.name,
    queues: videoFamily.queues.map((q) => q.name),
    batchSize: 1,
    readsPerTick: READS_PER_TICK,
    parallelReads: PARALLEL_READS,
    /** A video whose read failed other than by a 404 is reported failed alone (it stays as it was). */
    async read(channel, ids, signal) {
      const found = await Promise.allSettled(ids.map((id) => client(channel).retrieve(id, signal)));
      const out = new Map<string, UpstreamVideo | TaskReadFailed>();
      found.forEach((r, i) => {
        if (r.status === 'rejected') out.set(ids[i]!, TaskReadFailed.of(r.reason));
        else if (r.value) out.set(ids[i]!, r.value);
      });
      return out;
    },
    cancel: (channel, id) => client(channel).remove(id),
    finished: (u) => u.status === 'completed',
    fingerprint: fingerprintOf,
    changeFor,
    timeoutMs,
    lostAfterMs: Math.min(timeoutMs, 120_000),
    pollIntervalMs: config.UPSTREAM_POLL_INTERVAL_MS,
  };
}
