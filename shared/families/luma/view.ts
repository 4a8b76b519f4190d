import type { LumaGeneration, LumaMedia, LumaTask } from './task.js';

/**
 * A generation as Luma-API clients read it (`GET /luma/generations/{id}`, the submit answer, a
 * `notify_hook` body): Luma-API's own fields (`id`, `prompt`, `state`, `created_at` as ISO-8601,
 * `video`, `liked`, `estimate_wait_seconds`) plus the ones hosted relays add (`thumbnail`,
 * `last_frame`, `video_raw`, `failure_reason`) and `assets.video` for readers of the official
 * Dream Machine shape. `id` is relayq's task id; media URLs are the upstream's.
 */
export interface LumaGenerationObject {
  id: string;
  prompt: string;
  state: LumaGeneration['state'];
  created_at: string;
  video: LumaMedia | null;
  video_raw: LumaMedia | null;
  thumbnail: LumaMedia | null;
  last_frame: LumaMedia | null;
  liked: null;
  estimate_wait_seconds: number | null;
  failure_reason: string | null;
  assets: { video: string } | null;
}

/**
 * The finished video as clients read it: the upstream's object, with `download_url` filled from
 * `url` when the upstream gave only one of them (popular clients wait for `download_url`).
 */
function finishedVideo(v: LumaMedia | null): LumaMedia | null {
  if (!v) return null;
  const url = v.url ?? v.download_url ?? null;
  return { ...v, url, download_url: v.download_url ?? url };
}

/** The state clients see: relayq's task status decides; while running, the upstream's (never `completed`). */
function stateOf(task: LumaTask): LumaGeneration['state'] {
  switch (task.status) {
    case 'succeeded':
      return 'completed';
    case 'failed':
    case 'canceled':
      return 'failed';
    case 'running':
      return task.generation.state === 'processing' ? 'processing' : 'pending';
    default:
      return 'pending';
  }
}

/** The Luma-API generation object of a task. */
export function toLumaGeneration(task: LumaTask): LumaGenerationObject {
  const g = task.generation;
  const state = stateOf(task);
  const video = state === 'completed' ? finishedVideo(g.video) : null;
  return {
    id: task.id,
    prompt: task.luma.prompt,
    state,
    created_at: new Date(task.created_at).toISOString(),
    video,
    video_raw: g.video_raw,
    thumbnail: g.thumbnail,
    last_frame: g.last_frame,
    liked: null,
    estimate_wait_seconds: state === 'pending' || state === 'processing' ? g.estimate_wait_seconds : null,
    failure_reason: state === 'failed' ? (task.error?.message ?? g.failure_reason ?? 'generation failed') : null,
    assets: video?.url ? { video: video.url } : null,
  };
}

/** The `output` of the generic task view: the finished video's URLs and size; null until then. */
export function lumaOutput(task: LumaTask): unknown {
  if (task.status !== 'succeeded') return task.output ?? null;
  const video = finishedVideo(task.generation.video);
  return {
    video_url: video?.url ?? null,
    download_url: video?.download_url ?? null,
    width: video?.width ?? null,
    height: video?.height ?? null,
    thumbnail_url: task.generation.thumbnail?.url ?? video?.thumbnail ?? null,
    last_frame_url: task.generation.last_frame?.url ?? null,
  };
}

/** Where the finished video is (what `/v1/tasks/{id}/content` redirects to). */
export const lumaContentUrl = (task: LumaTask): string | null => (task.status === 'succeeded' ? (finishedVideo(task.generation.video)?.download_url ?? null) : null);
