import type { TaskBase } from '../../tasks/model.js';
import { newTask } from '../../tasks/new.js';

/** The task kinds of the OpenAI videos family (a wire format): a generation, and a remix of one. */
export const VIDEO_KINDS = ['video.generation', 'video.remix'] as const;
export type VideoKind = (typeof VIDEO_KINDS)[number];

/**
 * What a video was asked for, with the OpenAI Videos API's field names; written once at creation.
 * The request body itself is the `request` blob, forwarded as it came. Null: not given (the
 * upstream's default applies).
 */
export interface VideoRequest {
  model: string | null;
  prompt: string | null;
  /** Clip length in seconds, as text (`"4"`, `"8"`, `"12"`), as the API spells it. */
  seconds: string | null;
  /** `<width>x<height>` (`720x1280`). */
  size: string | null;
  /** For a remix: the relayq id of the video it remixes (clients never see upstream ids). */
  remixed_from_video_id: string | null;
}

/** What the upstream last reported of the video; its own values win over the requested ones. */
export interface VideoReport {
  model: string | null;
  seconds: string | null;
  size: string | null;
  /** When the upstream drops the video's assets (Unix s). */
  expires_at: number | null;
  /** A media URL some OpenAI-compatible upstreams add (`video_url`), relayed as given. */
  video_url: string | null;
}

/** A video job relayed to an OpenAI-compatible `/v1/videos` upstream and followed there by the tracker. */
export interface VideoTask extends TaskBase<VideoKind> {
  family: 'video';
  video: VideoRequest;
  reported: VideoReport | null;
  /** When a client deleted it (epoch ms): gone from `/v1/videos` from then on. */
  deleted_at: number | null;
}

/** A fresh video task: nothing reported by the upstream yet. */
export function newVideoTask(fields: Pick<VideoTask, 'id' | 'kind' | 'tenant' | 'video'> & Partial<Omit<VideoTask, 'family'>>, now = Date.now()): VideoTask {
  return newTask<VideoTask>({ family: 'video', reported: null, deleted_at: null, ...fields }, now);
}
