import type { TaskBase } from '../../tasks/model.js';
import { newTask } from '../../tasks/new.js';

/** The task kinds of the Luma family (a wire format): a new generation, and the extension of one. */
export const LUMA_KINDS = ['luma.generation', 'luma.extend'] as const;
export type LumaKind = (typeof LUMA_KINDS)[number];

/** The queue of Luma tasks (a wire format: the hash tag `{luma}` and the start of every Luma task id). */
export const LUMA_QUEUE = 'luma';

/** What a Luma task was asked for; written once at creation. The whole request body is the `request` blob. */
export interface LumaRequest {
  /** `user_prompt` (or `prompt`), as the client sent it. */
  prompt: string;
  aspect_ratio: string | null;
  /** `model_name`, when the client named one (channels may be limited to models). */
  model: string | null;
  /** For an extend: the relayq id of the generation extended. */
  parentId: string | null;
}

/**
 * A picture or video the upstream made, as it gave it: `url` (and `download_url`, `width`,
 * `height`, `thumbnail` when it gave them). URLs are relayed unchanged.
 */
export interface LumaMedia {
  url: string | null;
  download_url?: string | null;
  width?: number | null;
  height?: number | null;
  thumbnail?: string | null;
}

/**
 * What the upstream last said of the generation, in the Luma-API protocol's terms: its `state`
 * (pending, processing, completed, failed; completed only once a video URL exists) and the media.
 */
export interface LumaGeneration {
  state: 'pending' | 'processing' | 'completed' | 'failed';
  video: LumaMedia | null;
  video_raw: LumaMedia | null;
  thumbnail: LumaMedia | null;
  last_frame: LumaMedia | null;
  failure_reason: string | null;
  estimate_wait_seconds: number | null;
}

/** A Luma video task: what was asked, and what the upstream reported of its generation. */
export interface LumaTask extends TaskBase<LumaKind> {
  family: 'luma';
  luma: LumaRequest;
  generation: LumaGeneration;
}

/** A generation nothing has happened to yet. */
export const pendingGeneration = (): LumaGeneration => ({
  state: 'pending',
  video: null,
  video_raw: null,
  thumbnail: null,
  last_frame: null,
  failure_reason: null,
  estimate_wait_seconds: null,
});

/** A fresh Luma task: the base fields, a pending generation, and what was asked. */
export function newLumaTask(fields: Pick<LumaTask, 'id' | 'kind' | 'tenant' | 'luma'> & Partial<Omit<LumaTask, 'family'>>, now = Date.now()): LumaTask {
  return newTask<LumaTask>({ family: 'luma', generation: pendingGeneration(), ...fields }, now);
}
