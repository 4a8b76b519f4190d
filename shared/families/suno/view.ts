import type { TaskStatus } from '../../tasks/model.js';
import { actionOf, type SunoAction, type SunoTask } from './task.js';
import { clipsOf, isObject, readStatus, type SunoStatus } from './upstream.js';

/**
 * The Suno task object of `GET /suno/fetch/{id}`, `POST /suno/fetch` and `notify_hook` callbacks:
 * new-api's task DTO (the fields its clients and its own Suno channel read). Times are Unix
 * seconds, 0 when not reached (Go's zero value, as new-api sends it); `progress` is `"NN%"`.
 */
export interface SunoTaskObject {
  task_id: string;
  action: SunoAction;
  status: SunoStatus;
  fail_reason: string;
  submit_time: number;
  start_time: number;
  finish_time: number;
  progress: string;
  platform: 'suno';
  /** MUSIC: the clips (`[]` before any); LYRICS: the lyrics object, or null before it exists. */
  data: unknown;
}

/**
 * The status a Suno client sees. A running task shows the upstream's own phase (SUBMITTED, QUEUED,
 * IN_PROGRESS; a SUCCESS whose clips are not all complete yet is still IN_PROGRESS). No Suno source has a canceled state, and clients stop polling only on SUCCESS or
 * FAILURE, so a canceled task is a FAILURE (its `fail_reason` says it was canceled).
 */
export function sunoStatusOf(task: Pick<SunoTask, 'status' | 'upstream'>): SunoStatus {
  const running = (): SunoStatus => {
    const s = readStatus(task.upstream?.status);
    return s === 'QUEUED' || s === 'IN_PROGRESS' ? s : s === 'SUCCESS' ? 'IN_PROGRESS' : 'SUBMITTED';
  };
  const map: Record<TaskStatus, () => SunoStatus> = {
    queued: () => 'NOT_START',
    requires_action: () => 'NOT_START',
    running,
    succeeded: () => 'SUCCESS',
    failed: () => 'FAILURE',
    canceled: () => 'FAILURE',
  };
  return map[task.status]();
}

const seconds = (ms: number | null) => (ms === null ? 0 : Math.floor(ms / 1000));

export function toSunoTask(task: SunoTask): SunoTaskObject {
  const status = sunoStatusOf(task);
  const music = task.kind !== 'suno.lyrics';
  return {
    task_id: task.id,
    action: actionOf(task.kind),
    status,
    fail_reason: task.error?.message ?? '',
    submit_time: seconds(task.created_at),
    start_time: seconds(task.started_at),
    finish_time: seconds(task.completed_at),
    progress: status === 'SUCCESS' || status === 'FAILURE' ? '100%' : `${task.progress}%`,
    platform: 'suno',
    data: music ? (Array.isArray(task.data) ? task.data : []) : isObject(task.data) ? task.data : null,
  };
}

/** The fields of a clip the generic view shows, as the upstream gave them. */
const CLIP_FIELDS = ['id', 'status', 'title', 'audio_url', 'video_url', 'image_url', 'image_large_url', 'model_name', 'major_model_version', 'created_at'] as const;

/**
 * The `output` of the generic view (`/v1/tasks`, webhooks, SSE): for MUSIC `{clips}` with each
 * clip's media URLs and ids, plus `duration` and `tags` from its metadata (shown while the clips
 * stream, since a streaming clip is already playable); for LYRICS `{lyrics: {id, title, text,
 * status}}`. null before the upstream reported anything.
 */
export function sunoOutput(task: SunoTask): unknown {
  if (task.kind === 'suno.lyrics') {
    if (!isObject(task.data)) return null;
    const { id, title, text, status } = task.data;
    return { lyrics: { id: id ?? null, title: title ?? null, text: text ?? null, status: status ?? null } };
  }
  const clips = clipsOf(task.data);
  if (clips.length === 0) return null;
  return {
    clips: clips.map((c) => {
      const meta = isObject(c.metadata) ? c.metadata : {};
      const out: Record<string, unknown> = {};
      for (const k of CLIP_FIELDS) if (c[k] !== undefined) out[k] = c[k];
      if (meta.duration !== undefined) out.duration = meta.duration;
      if (meta.tags !== undefined) out.tags = meta.tags;
      return out;
    }),
  };
}

/** A finished song's audio (`/v1/tasks/{id}/content` redirects there): the first clip with an `audio_url`. */
export function sunoContentUrl(task: SunoTask): string | null {
  for (const c of clipsOf(task.data)) if (typeof c.audio_url === 'string' && /^https?:\/\//i.test(c.audio_url)) return c.audio_url;
  return null;
}
