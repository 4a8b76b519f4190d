import { createHash } from 'node:crypto';
import type { Channel } from '../../../shared/channels/config.js';
import type { Config } from '../../../shared/config.js';
import { sunoFamily } from '../../../shared/families/suno/family.js';
import type { SunoTask } from '../../../shared/families/suno/task.js';
import { clipError, clipsOf, isObject, readStatus, type SunoStatus, type SunoUpstreamTask } from '../../../shared/families/suno/upstream.js';
import { stableJson } from '../../../shared/fingerprint.js';
import type { Inflight } from '../../../shared/protocols/inflight.js';
import { errorOf } from '../../../shared/tasks/model.js';
import type { TaskChange } from '../../../shared/tasks/store.js';
import type { TrackerAdapter } from '../../tracker.js';
import type { SunoClient } from './client.js';

/** Upstream ids asked for in one `POST /suno/fetch` (suno-api reads them with one SQL `IN`). */
const BATCH = 200;

/**
 * The progress a phase stands for when the upstream gives none or less (suno-api sends no
 * `progress`; new-api only `"0%"` until `"100%"`): new-api's own floors for task phases.
 */
const FLOOR: Partial<Record<SunoStatus, number>> = { NOT_START: 0, SUBMITTED: 10, QUEUED: 20, IN_PROGRESS: 30 };

const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/**
 * What a SUCCESS answer holds: `done` once every clip is `complete` with an audio URL (or the
 * lyrics have text); `waiting` while a clip is still streaming or has no audio URL yet (Suno
 * swaps the streaming link for the mp3 only when the clip completes; the task is followed on);
 * `failed` with the upstream's reason for a clip in error, lyrics in error or without text, or
 * no result at all.
 */
export function successOf(u: SunoUpstreamTask): { done: true } | { waiting: string } | { failed: string } {
  const clips = clipsOf(u.data);
  if (clips.length > 0) {
    if (clips.some((c) => readStatus(c.status) === 'FAILURE')) return { failed: clipError(u.data) ?? 'upstream reported SUCCESS with a clip that failed' };
    const pending = clips.filter((c) => readStatus(c.status) !== 'SUCCESS' || !text(c.audio_url));
    if (pending.length === 0) return { done: true };
    return { waiting: `upstream reported SUCCESS but ${pending.length} of ${clips.length} clips never completed with an audio URL` };
  }
  if (isObject(u.data)) {
    const d = u.data;
    if (readStatus(d.status) === 'FAILURE') return { failed: text(d.error_message) || text(d.message) || 'upstream lyrics generation ended in error' };
    return text(d.text) ? { done: true } : { failed: 'upstream reported SUCCESS with lyrics without text' };
  }
  return { failed: 'upstream reported SUCCESS without any clip or lyrics' };
}

/**
 * What of `data` shows progress: each clip's identity, state and media (links by what they name,
 * not their signatures), title, duration and error; a lyrics object's state, title and text.
 * Counters, times and other fields that change on every read are left out.
 */
function meaningOf(data: unknown): unknown {
  const clips = clipsOf(data);
  if (clips.length > 0) {
    return clips.map((c) => {
      const meta = isObject(c.metadata) ? c.metadata : {};
      return [c.id, c.status, c.audio_url, c.video_url, c.image_url, c.image_large_url, c.title, meta.duration, meta.error_message, meta.error_type];
    });
  }
  return isObject(data) ? [data.status, data.title, data.text, data.error_message] : data;
}

/** A short digest of what shows progress, so an answer that changed nothing meaningful writes nothing. */
function fingerprintOf(u: SunoUpstreamTask): string {
  const data = u.data === undefined ? '' : createHash('sha1').update(stableJson(meaningOf(u.data))).digest('base64url');
  return [u.status, u.progress, u.failReason, data].join('|');
}

/**
 * What an upstream task's state means for relayq's; null when there is nothing to write (no
 * status relayq knows: the task stays followed). SUCCESS needs a whole result (see successOf): a
 * task still waiting for its clips stays running at 99 %; a SUCCESS with a `fail_reason` fails
 * with it (as new-api does). FAILURE takes its reason from `fail_reason`, else the first clip's
 * `metadata.error_message` (where suno-api finds it).
 */
export function changeFor(u: SunoUpstreamTask, entry: Inflight, now: number): TaskChange<SunoTask> | null {
  const upstream = { channel: entry.channel, id: entry.upstreamId, status: u.status };
  const data = u.data === undefined ? {} : { data: u.data };
  const failed = (message: string) => ({ status: 'failed' as const, patch: { ...data, upstream, completed_at: now, error: errorOf('upstream_error', 'upstream_failed', message) } });
  switch (u.status) {
    case 'SUCCESS': {
      if (u.failReason) return failed(u.failReason);
      const result = successOf(u);
      if ('failed' in result) return failed(result.failed);
      if ('waiting' in result) return { status: 'running', patch: { ...data, upstream, progress: 99 } };
      return { status: 'succeeded', patch: { ...data, upstream, progress: 100, completed_at: now } };
    }
    case 'FAILURE':
      return failed(u.failReason || clipError(u.data) || 'upstream task ended in FAILURE');
    case 'NOT_START':
    case 'SUBMITTED':
    case 'QUEUED':
    case 'IN_PROGRESS':
      return { status: 'running', patch: { ...data, upstream, progress: Math.min(99, Math.max(FLOOR[u.status] ?? 0, u.progress ?? 0)) } };
    default:
      return null;
  }
}

/**
 * How Suno work is followed: one `POST {channel}/suno/fetch` per channel per batch of 200 ids (as
 * new-api polls its Suno channels); a task with no change for UPSTREAM_TASK_TIMEOUT_SECONDS fails,
 * and one the upstream stops returning fails after at most 2 minutes. The protocol has no cancel:
 * canceled work is only no longer followed.
 */
export function sunoTrackerAdapter(
  config: Pick<Config, 'UPSTREAM_TASK_TIMEOUT_SECONDS' | 'UPSTREAM_POLL_INTERVAL_MS'>,
  client: (channel: Channel) => SunoClient,
): TrackerAdapter<SunoUpstreamTask> {
  const timeoutMs = config.UPSTREAM_TASK_TIMEOUT_SECONDS * 1000;
  return {
    family: sunoFamily.name,
    queues: sunoFamily.queues.map((q) => q.name),
    batchSize: BATCH,
    async read(channel, ids) {
      const list = await client(channel).fetch(ids);
      return new Map(list.map((u) => [u.id, u]));
    },
    cancel: async () => undefined,
    fingerprint: fingerprintOf,
    changeFor,
    waiting(u) {
      if (u.status !== 'SUCCESS' || u.failReason) return null;
      const result = successOf(u);
      return 'waiting' in result ? result.waiting : null;
    },
    timeoutMs,
    lostAfterMs: Math.min(timeoutMs, 120_000),
    pollIntervalMs: config.UPSTREAM_POLL_INTERVAL_MS,
  };
}
