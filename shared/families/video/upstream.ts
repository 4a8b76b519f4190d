/**
 * OpenAI Video objects as OpenAI-compatible upstreams send them, read field by field. Besides
 * OpenAI itself (`{id, object:"video", status, progress, …}`), relays answer in their own
 * spellings: new-api's first `/v1/videos` answered only `{"task_id": …}`; vendors behind new-api
 * report `status: "processing"` and add `video_url`; new-api's Sora adaptor reads `pending` and
 * `cancelled`; Azure reports `preprocessing`/`running`/`succeeded`; some wrap the object as
 * `{code, data: {...}}`. The result's URL comes as `video_url` or `url` (vendors), `result_url`
 * (new-api's unified task shape) or `metadata.url` (Kling through new-api). A field of an unexpected type is read as "not given"; only a missing id
 * makes an answer unusable.
 */

/** The OpenAI Video statuses. */
export type VideoStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

/** An upstream video as relayq uses it: `progress` 0–100, times in Unix seconds. */
export interface UpstreamVideo {
  id: string;
  /** Null when the upstream said nothing relayq can map (the task stays as it was). */
  status: VideoStatus | null;
  progress: number | null;
  error: { code: string | null; message: string } | null;
  model: string | null;
  seconds: string | null;
  size: string | null;
  expires_at: number | null;
  video_url: string | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const STATUSES: Record<string, VideoStatus> = {
  queued: 'queued',
  pending: 'queued',
  submitted: 'queued',
  not_start: 'queued',
  preprocessing: 'queued',
  in_progress: 'in_progress',
  processing: 'in_progress',
  running: 'in_progress',
  generating: 'in_progress',
  completed: 'completed',
  succeeded: 'completed',
  success: 'completed',
  failed: 'failed',
  failure: 'failed',
  error: 'failed',
  cancelled: 'failed',
  canceled: 'failed',
  expired: 'failed',
};

function text(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? null : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function readStatus(v: unknown): VideoStatus | null {
  if (typeof v !== 'string') return null;
  return STATUSES[v.trim().toLowerCase().replace(/[\s-]+/g, '_')] ?? null;
}

/** Progress 0–100 from `42`, `42.5`, `"42"`, `"42%"`; null when absent or unreadable. */
export function readProgress(v: unknown): number | null {
  let n = NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(v);
    if (m) n = Number(m[1]);
  }
  return Number.isFinite(n) ? Math.floor(Math.min(100, Math.max(0, n))) : null;
}

/** Unix seconds from seconds, milliseconds (13 digits) or an ISO-8601 text; null otherwise. */
function unixSeconds(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v > 1e12 ? v / 1000 : v);
  if (typeof v === 'string' && /^\d+$/.test(v.trim())) return unixSeconds(Number(v));
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
  }
  return null;
}

function readError(raw: Json): UpstreamVideo['error'] {
  const e = raw.error;
  if (isObject(e)) {
    const message = text(e.message) ?? text(e.code) ?? null;
    return message ? { code: text(e.code), message } : null;
  }
  const message = text(e) ?? text(raw.fail_reason) ?? text(raw.failure_reason);
  return message ? { code: null, message } : null;
}

/** The object itself, out of a `{code, data: {...}}` envelope when it comes in one. */
function unwrap(raw: Json): Json {
  const hasOwn = raw.id !== undefined || raw.task_id !== undefined || raw.status !== undefined;
  return !hasOwn && isObject(raw.data) ? raw.data : raw;
}

/** An upstream video object (create, remix or retrieve answer); null without a usable id. */
export function readUpstreamVideo(body: unknown): UpstreamVideo | null {
  if (!isObject(body)) return null;
  const raw = unwrap(body);
  const id = text(raw.id) ?? text(raw.task_id);
  if (!id) return null;
  return {
    id,
    status: readStatus(raw.status),
    progress: readProgress(raw.progress),
    error: readError(raw),
    model: text(raw.model),
    seconds: text(raw.seconds),
    size: text(raw.size),
    expires_at: unixSeconds(raw.expires_at),
    video_url: text(raw.video_url) ?? text(raw.url) ?? text(raw.result_url) ?? (isObject(raw.metadata) ? text(raw.metadata.url) : null),
  };
}
