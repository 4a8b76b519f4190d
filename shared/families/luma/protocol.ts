import type { LumaGeneration, LumaMedia } from './task.js';

/**
 * The Luma-API protocol (LumaAI-API/Luma-API, the open-source `/luma/*` server, and the hosted
 * relays that copy it), read leniently. A generation there is
 * `{id, prompt, state, created_at, video: {url, width, height, thumbnail, download_url} | null,
 * liked, estimate_wait_seconds}`; vendors add `thumbnail`, `last_frame`, `video_raw`,
 * `artifact{video, thumbnail, video_raw, last_frame}`, `failure_reason`, `queue_state`.
 * Answers seen in the wild that this reads too: the upstream array (`[generation]`, Luma's own
 * answer, which Luma-API unwraps), a `{"data": generation | [generation]}` wrapper (with or
 * without `code`/`message`), a submit answered with only `{"task_id": …}`, `status` in place of
 * `state`, the official Dream Machine states (`queued`, `dreaming`) and `assets.video` (a URL
 * string), ids and sizes as numbers or strings, and null or missing fields anywhere.
 */

/** A generation's state, normalised: the Luma-API vocabulary. */
export type UpstreamState = LumaGeneration['state'];

/** An upstream generation as relayq reads it. `state` is null when the upstream said something unknown. */
export interface UpstreamGeneration {
  id: string;
  state: UpstreamState | null;
  /** The state as the upstream wrote it (`dreaming`, `COMPLETED`, …). */
  rawState: string | null;
  video: LumaMedia | null;
  video_raw: LumaMedia | null;
  thumbnail: LumaMedia | null;
  last_frame: LumaMedia | null;
  failure_reason: string | null;
  estimate_wait_seconds: number | null;
  /** 0–100 when the upstream gave a progress (a number, or `"NN%"`); null otherwise. */
  progress: number | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null);
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};

const STATES: Record<string, UpstreamState> = {
  pending: 'pending',
  queued: 'pending',
  submitted: 'pending',
  waiting: 'pending',
  created: 'pending',
  not_start: 'pending',
  processing: 'processing',
  dreaming: 'processing',
  in_progress: 'processing',
  running: 'processing',
  generating: 'processing',
  completed: 'completed',
  complete: 'completed',
  succeeded: 'completed',
  success: 'completed',
  finished: 'completed',
  failed: 'failed',
  failure: 'failed',
  error: 'failed',
  canceled: 'failed',
  cancelled: 'failed',
};

/** A state word in the Luma-API vocabulary; null for one nobody knows. */
export const stateOf = (raw: string | null): UpstreamState | null => (raw ? (STATES[raw.trim().toLowerCase()] ?? null) : null);

/** A media object (or a bare URL string) as the upstream gave it; null when it holds no URL. */
export function readMedia(v: unknown): LumaMedia | null {
  if (typeof v === 'string') return v.trim() ? { url: v } : null;
  if (!isObject(v)) return null;
  const url = str(v.url);
  const download = str(v.download_url);
  if (!url && !download) return null;
  const out: LumaMedia = { url };
  if (download) out.download_url = download;
  const width = num(v.width);
  const height = num(v.height);
  if (width !== null) out.width = width;
  if (height !== null) out.height = height;
  const thumb = str(v.thumbnail) ?? (isObject(v.thumbnail) ? str(v.thumbnail.url) : null);
  if (thumb) out.thumbnail = thumb;
  return out;
}

/** The generation inside an answer: the object itself, the first of an array, or what `data` holds. */
function unwrap(raw: unknown): Json | null {
  const first = (v: unknown) => (Array.isArray(v) ? v.find(isObject) : v);
  const outer = first(raw);
  if (!isObject(outer)) return null;
  const data = first(outer.data);
  return isObject(data) && !('id' in outer) ? data : outer;
}

function progressOf(v: unknown): number | null {
  const n = typeof v === 'string' ? Number.parseFloat(v) : num(v);
  return n !== null && Number.isFinite(n) ? Math.max(0, Math.min(100, Math.round(n))) : null;
}

/** Why it failed, from the fields vendors use (`failure_reason`, `fail_reason`, `error`). */
function failureOf(o: Json): string | null {
  const e = o.error;
  return str(o.failure_reason) ?? str(o.fail_reason) ?? (isObject(e) ? str(e.message) : str(e)) ?? null;
}

/**
 * Reads a generation from an answer (submit or fetch); null when it names no generation id
 * (an error body, or something else entirely).
 */
export function readGeneration(raw: unknown): UpstreamGeneration | null {
  const o = unwrap(raw);
  if (!o) return null;
  const id = str(o.id) ?? str(o.task_id) ?? str(o.generation_id);
  if (!id) return null;
  const artifact = isObject(o.artifact) ? o.artifact : {};
  const assets = isObject(o.assets) ? o.assets : {};
  const rawState = str(o.state) ?? str(o.status);
  return {
    id,
    state: stateOf(rawState),
    rawState,
    video: readMedia(o.video) ?? readMedia(artifact.video) ?? readMedia(assets.video) ?? readMedia(o.video_url),
    video_raw: readMedia(o.video_raw) ?? readMedia(artifact.video_raw),
    thumbnail: readMedia(o.thumbnail) ?? readMedia(artifact.thumbnail) ?? readMedia(assets.image),
    last_frame: readMedia(o.last_frame) ?? readMedia(artifact.last_frame),
    failure_reason: failureOf(o),
    estimate_wait_seconds: num(o.estimate_wait_seconds),
    progress: progressOf(o.progress),
  };
}

/** The video's URL, when the upstream gave one (`url`, else `download_url`). */
export const videoUrlOf = (g: Pick<UpstreamGeneration, 'video'>): string | null => g.video?.url ?? g.video?.download_url ?? null;

/**
 * The state relayq reports for an upstream generation: `completed` only once a video URL exists
 * (upstreams say `completed` a while before the link is there), but `failed` at once when a
 * `completed` without video gives a `failure_reason` (a moderated generation); an unknown state
 * stays unknown.
 */
export function effectiveState(g: Pick<UpstreamGeneration, 'state' | 'video' | 'failure_reason'>): UpstreamState | null {
  if (g.state === 'completed' && !videoUrlOf(g)) return g.failure_reason ? 'failed' : 'processing';
  return g.state;
}
