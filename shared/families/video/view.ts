import type { VideoStatus } from './upstream.js';
import type { VideoTask } from './task.js';

/**
 * The OpenAI Video object (openai-node `resources/videos.ts` `Video`): what `/v1/videos` answers,
 * with relayq's id. Times are Unix seconds.
 */
export interface VideoObject {
  id: string;
  object: 'video';
  completed_at: number | null;
  created_at: number;
  error: { code: string; message: string } | null;
  expires_at: number | null;
  model: string;
  progress: number;
  prompt: string | null;
  remixed_from_video_id: string | null;
  seconds: string;
  size: string;
  status: VideoStatus;
}

/** The OpenAI Videos API's defaults (`sora-2`, 4 s, portrait 720x1280), shown until the upstream says otherwise. */
export const VIDEO_DEFAULTS = { model: 'sora-2', seconds: '4', size: '720x1280' } as const;

const unix = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** The video's status: a running task the upstream still holds in its queue is `queued`. */
export function videoStatusOf(task: Pick<VideoTask, 'status' | 'upstream'>): VideoStatus {
  switch (task.status) {
    case 'succeeded':
      return 'completed';
    case 'failed':
    case 'canceled':
      return 'failed';
    case 'running':
      return task.upstream?.status === 'queued' ? 'queued' : 'in_progress';
    default:
      return 'queued';
  }
}

export function toVideoObject(task: VideoTask): VideoObject {
  const status = videoStatusOf(task);
  const finished = status === 'completed' || status === 'failed';
  const r = task.reported;
  return {
    id: task.id,
    object: 'video',
    completed_at: finished ? unix(task.completed_at) : null,
    created_at: unix(task.created_at)!,
    error: status === 'failed' ? { code: task.error?.code ?? 'failed', message: task.error?.message ?? 'the video failed' } : null,
    expires_at: r?.expires_at ?? null,
    model: r?.model ?? task.video.model ?? VIDEO_DEFAULTS.model,
    progress: status === 'completed' ? 100 : task.progress,
    prompt: task.video.prompt,
    remixed_from_video_id: task.video.remixed_from_video_id,
    seconds: r?.seconds ?? task.video.seconds ?? VIDEO_DEFAULTS.seconds,
    size: r?.size ?? task.video.size ?? VIDEO_DEFAULTS.size,
    status,
  };
}
