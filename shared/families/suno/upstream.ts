import { parseProgress, type Odd } from '../../progress.js';
/**
 * suno-api answers read field by field. The upstreams differ: Suno-API/Suno-API (the server
 * new-api's Suno channel targets) answers its DB rows (`id` an integer row id, `task_id` the task,
 * no `progress`), new-api relays answer their task DTO (`progress` `"0%"`/`"100%"`), and resellers
 * answer in other shapes (lower-case statuses, numbers as strings, `data` as JSON text). Each field
 * is read on its own: a field of an unexpected type is reported through `odd` and read as "not
 * given", never dropping the item. Only a missing `task_id` makes an item unusable.
 */
export type { Odd };

/** A Suno task status as relayq uses it (suno-api's vocabulary; `UNKNOWN` and the like are read as none). */
export type SunoStatus = 'NOT_START' | 'SUBMITTED' | 'QUEUED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE';

/** An upstream task as relayq uses it. `progress` is 0–100; `data` is undefined when the item had none. */
export interface SunoUpstreamTask {
  id: string;
  status: SunoStatus | null;
  progress: number | null;
  failReason: string | null;
  data: unknown;
}

type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const nothing = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** An id: a non-blank string, or a non-negative integer. */
export function readId(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() || null;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return null;
}

/**
 * Status names as upstreams spell them. suno-api's own are upper case (`SUBMITTED`, `QUEUED`,
 * `IN_PROGRESS`, `SUCCESS`, `FAILURE`, `NOT_START`); a relay that passes Suno's clip states on
 * sends `submitted`, `queued`, `streaming`, `complete`, `error`; others `pending`, `processing`,
 * `running`, `failed`, `completed`. `UNKNOWN` (declared by suno-api, treated as unfinished by
 * new-api) and anything else is no status: the task stays as it was and is followed on.
 */
const STATUS_ALIASES: Record<string, SunoStatus> = {
  NOTSTART: 'NOT_START',
  SUBMITTED: 'SUBMITTED',
  PENDING: 'SUBMITTED',
  QUEUED: 'QUEUED',
  QUEUEING: 'QUEUED',
  INPROGRESS: 'IN_PROGRESS',
  STREAMING: 'IN_PROGRESS',
  PROCESSING: 'IN_PROGRESS',
  RUNNING: 'IN_PROGRESS',
  SUCCESS: 'SUCCESS',
  SUCCEEDED: 'SUCCESS',
  COMPLETE: 'SUCCESS',
  COMPLETED: 'SUCCESS',
  FAILURE: 'FAILURE',
  FAILED: 'FAILURE',
  FAIL: 'FAILURE',
  ERROR: 'FAILURE',
};

/** A status in any of the spellings above; null (and `odd` for a non-string) otherwise. */
export function readStatus(v: unknown, odd: Odd = () => undefined): SunoStatus | null {
  if (nothing(v)) return null;
  if (typeof v !== 'string') {
    odd('status', v);
    return null;
  }
  const s = STATUS_ALIASES[v.trim().toUpperCase().replace(/[\s_-]+/g, '')];
  if (!s && v.trim().toUpperCase() !== 'UNKNOWN') odd('status', v);
  return s ?? null;
}


function readText(field: string, v: unknown, odd: Odd): string | null {
  if (nothing(v)) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  odd(field, v);
  return null;
}

/** `v` parsed when it is JSON text of an object or array (a relay that stores `data` as text passes it on so). */
function unwrapJsonText(v: unknown): unknown {
  if (typeof v !== 'string' || !/^\s*[[{]/.test(v)) return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/**
 * `data`: an array of clip objects (MUSIC; items that are not objects are dropped), one object
 * (LYRICS), or null. JSON text of either is parsed. Undefined when the item carried no `data`.
 */
export function readData(v: unknown, odd: Odd = () => undefined): unknown {
  if (v === undefined) return undefined;
  if (nothing(v)) return null;
  const d = unwrapJsonText(v);
  if (Array.isArray(d)) {
    const clips = d.filter(isObject);
    if (clips.length !== d.length) odd('data[]', d.find((c) => !isObject(c)));
    return clips;
  }
  if (isObject(d)) return d;
  odd('data', v);
  return null;
}

/** The clips of a `data` value (none for lyrics or nothing). */
export const clipsOf = (data: unknown): Json[] => (Array.isArray(data) ? data.filter(isObject) : []);

/**
 * The status of a task from its clips, as suno-api derives it when an item says nothing itself:
 * SUCCESS once every clip is `complete`, else the state of the first clip that is not.
 */
export function statusFromClips(clips: Json[]): SunoStatus | null {
  if (clips.length === 0) return null;
  const pending = clips.find((c) => readStatus(c.status) !== 'SUCCESS');
  return pending ? readStatus(pending.status) : 'SUCCESS';
}

/**
 * The first clip's error message (`metadata.error_message`), where suno-api takes a failure's
 * reason from; else the first `metadata.error_type` (`moderation`, …) a clip names.
 */
export function clipError(data: unknown): string | null {
  const metas = clipsOf(data).map((c) => (isObject(c.metadata) ? c.metadata : {}));
  for (const m of metas) if (typeof m.error_message === 'string' && m.error_message.trim() !== '') return m.error_message;
  for (const m of metas) if (typeof m.error_type === 'string' && m.error_type.trim() !== '') return `upstream clip failed (${m.error_type})`;
  return null;
}

/** One item of `POST /suno/fetch`; null when it has no usable `task_id` (suno-api's `id` is a row id, never the task's). */
export function readUpstreamTask(raw: unknown, odd: Odd = () => undefined): SunoUpstreamTask | null {
  if (!isObject(raw)) return null;
  const id = readId(raw.task_id);
  if (!id) return null;
  const data = readData(raw.data, odd);
  return {
    id,
    status: nothing(raw.status) ? statusFromClips(clipsOf(data)) : readStatus(raw.status, odd),
    progress: parseProgress(raw.progress, odd),
    failReason: readText('fail_reason', raw.fail_reason, odd),
    data,
  };
}

/**
 * The `{code, message, data}` envelope of every suno-api answer. `ok` when `code` is `"success"`
 * (any case; new-api's test) or, as some resellers answer, 200 or 0. null when the body is not an
 * envelope (no `code`).
 */
export function readEnvelope(raw: unknown, odd: Odd = () => undefined): { ok: boolean; code: string; message: string | null; data: unknown } | null {
  if (!isObject(raw) || nothing(raw.code)) return null;
  const code = typeof raw.code === 'string' ? raw.code.trim() : typeof raw.code === 'number' ? String(raw.code) : null;
  if (code === null) return null;
  const ok = code.toLowerCase() === 'success' || code === '200' || code === '0';
  if (ok && code.toLowerCase() !== 'success') odd('code', raw.code);
  const message = readText('message', raw.message, odd) ?? readText('msg', raw.msg, odd);
  return { ok, code, message, data: raw.data };
}

/** The upstream task id a submit envelope's `data` names: a string or number, or an object's `task_id`/`id`. */
export function submittedId(data: unknown, odd: Odd = () => undefined): string | null {
  const id = isObject(data) ? (readId(data.task_id) ?? readId(data.id)) : readId(data);
  if (id && typeof data !== 'string') odd('data', data);
  return id;
}

/**
 * The items of a `POST /suno/fetch` answer: the envelope's `data` (an array; null means none; one
 * object is one item), or a bare array. Items without a usable `task_id` are left out and counted.
 * null when the body is neither.
 */
export function readFetchList(raw: unknown, odd: Odd = () => undefined): { tasks: SunoUpstreamTask[]; unusable: number } | null {
  const env = Array.isArray(raw) ? null : readEnvelope(raw, odd);
  if (!Array.isArray(raw) && !env?.ok) return null;
  const data = Array.isArray(raw) ? raw : env!.data;
  const list = data === null || data === undefined ? [] : Array.isArray(data) ? data : isObject(data) ? [data] : null;
  if (list === null) return null;
  const tasks: SunoUpstreamTask[] = [];
  let unusable = 0;
  for (const item of list) {
    const t = readUpstreamTask(item, odd);
    if (t) tasks.push(t);
    else unusable++;
  }
  return { tasks, unusable };
}
