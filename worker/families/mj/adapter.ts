import type { Channel } from '../../../shared/channels/config.js';
import type { Config } from '../../../shared/config.js';
import { mjFamily } from '../../../shared/families/mj/family.js';
import type { UpstreamTask } from '../../../shared/families/mj/protocol.js';
import type { MjTask } from '../../../shared/families/mj/task.js';
import type { Inflight } from '../../../shared/protocols/inflight.js';
import { errorOf } from '../../../shared/tasks/model.js';
import type { TaskChange } from '../../../shared/tasks/store.js';
import type { TrackerAdapter } from '../../tracker.js';
import type { MjClient } from './client.js';

/** Upstream ids asked for in one list-by-condition request. */
const BATCH = 500;

const fingerprintOf = (u: UpstreamTask) =>
  [u.status, u.progress, u.imageUrl, u.failReason, u.buttons?.length ?? 0, String(u.properties?.finalPrompt ?? ''), u.imageUrls?.length ?? 0].join('|');

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
export function changeFor(u: UpstreamTask, entry: Inflight, now: number): TaskChange<MjTask> | null {
  const upstream = { channel: entry.channel, id: entry.upstreamId, modalId: null, status: u.status ?? null };
  // imageUrls only when given: the patch (and each change's field list) stays as it was for upstreams without it.
  const base = { image_url: u.imageUrl ?? null, ...(u.imageUrls?.length ? { image_urls: u.imageUrls } : {}), properties: clientProperties(u), upstream };
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
 * How MJ work is followed: one `POST {channel}/mj/task/list-by-condition` per channel per batch of
 * 500 ids; a task with no progress for MJ_UPSTREAM_TIMEOUT_SECONDS fails, and one the upstream
 * stops returning fails after at most 2 minutes (a shorter leash than a slow one gets).
 */
export function mjTrackerAdapter(config: Pick<Config, 'MJ_UPSTREAM_TIMEOUT_SECONDS' | 'MJ_POLL_INTERVAL_MS'>, client: (channel: Channel) => MjClient): TrackerAdapter<UpstreamTask> {
  const timeoutMs = config.MJ_UPSTREAM_TIMEOUT_SECONDS * 1000;
  return {
    family: mjFamily.name,
    queues: mjFamily.queues.map((q) => q.name),
    batchSize: BATCH,
    async read(channel, ids) {
      const list = await client(channel).listByCondition(ids);
      return new Map(list.map((u) => [u.id, u]));
    },
    cancel: (channel, id) => client(channel).cancel(id),
    fingerprint: fingerprintOf,
    changeFor,
    timeoutMs,
    lostAfterMs: Math.min(timeoutMs, 120_000),
    pollIntervalMs: config.MJ_POLL_INTERVAL_MS,
  };
}
