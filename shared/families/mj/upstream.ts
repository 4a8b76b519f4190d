import { parseProgress, type Odd } from '../../progress.js';
import type { MjButton, MjImage } from './task.js';

/**
 * Midjourney-proxy answers read field by field. Proxies differ (novicezk, trueai-org, new-api and
 * one-api relays, hosted MJ APIs) and each field is read on its own: a field of an unexpected type
 * is reported through `odd` and read as "not given", never dropping the task. Only a missing or
 * unusable id makes an item unusable.
 */
export type { Odd };

/** An upstream task as relayq uses it. `progress` is 0–100; `status` is upper case. */
export interface UpstreamTask {
  id: string;
  status?: string | null;
  progress?: number | null;
  imageUrl?: string | null;
  /** The four images of a grid, one by one (trueai-org's `imageUrls`), when the upstream gives them. */
  imageUrls?: MjImage[] | null;
  failReason?: string | null;
  promptEn?: string | null;
  buttons?: MjButton[] | null;
  properties?: Record<string, unknown> | null;
}

/** A submit envelope: `{code, description, result, properties}` with `result` the upstream task id. */
export interface SubmitEnvelope {
  code: number;
  description: string | null;
  result: string | null;
  properties: Record<string, unknown>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const nothing = (v: unknown) => v === undefined || v === null || v === '';

/** An id: a non-blank string, or an integer (ids past 2^53 must arrive as strings to keep their digits). */
export function readId(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() || null;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === 'bigint') return v.toString();
  return null;
}

export { parseProgress };

/**
 * Status names hosted MJ APIs spell differently (nano-gpt answers `FAILED`, `PENDING`, `RUNNING`
 * and lower-case `submitted`; others `FAIL`, `QUEUED`, `PROCESSING`, `DONE`). Anything else
 * unknown (`unknown`, a number) is no status: the task stays as it was and is followed on.
 */
const STATUS_ALIASES: Record<string, string> = {
  FAILED: 'FAILURE',
  FAIL: 'FAILURE',
  CANCELED: 'CANCEL',
  CANCELLED: 'CANCEL',
  SUCCEEDED: 'SUCCESS',
  DONE: 'SUCCESS',
  COMPLETED: 'SUCCESS',
  INPROGRESS: 'IN_PROGRESS',
  RUNNING: 'IN_PROGRESS',
  PROCESSING: 'IN_PROGRESS',
  PENDING: 'SUBMITTED',
  QUEUED: 'SUBMITTED',
  NOTSTART: 'NOT_START',
};

function readStatus(v: unknown, odd: Odd): string | null {
  if (nothing(v)) return null;
  if (typeof v !== 'string') {
    // A numeric status means nothing we can map (new-api keeps a fallback type for it).
    odd('status', v);
    return null;
  }
  const s = v.trim().toUpperCase().replace(/[\s-]+/g, '_');
  return STATUS_ALIASES[s.replace(/_/g, '')] ?? STATUS_ALIASES[s] ?? s;
}

function readText(field: string, v: unknown, odd: Odd): string | null {
  if (nothing(v)) return null;
  if (typeof v === 'string') return v.trim() === '' ? null : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  odd(field, v);
  return null;
}

function readUrl(field: string, v: unknown, odd: Odd): string | null {
  if (nothing(v)) return null;
  if (typeof v === 'string') return v.trim() || null;
  odd(field, v);
  return null;
}

/** `imageUrls`: `[{url, thumbnail}]` (plain URL strings too); items without a URL are left out. */
function readImageUrls(v: unknown, odd: Odd): MjImage[] {
  const list = unwrapJsonText(v);
  if (nothing(list)) return [];
  if (!Array.isArray(list)) {
    odd('imageUrls', v);
    return [];
  }
  return list.flatMap((item): MjImage[] => {
    if (typeof item === 'string' && item.trim()) return [{ url: item.trim(), thumbnail: null }];
    if (isObject(item) && typeof item.url === 'string' && item.url.trim()) {
      return [{ url: item.url.trim(), thumbnail: typeof item.thumbnail === 'string' && item.thumbnail.trim() ? item.thumbnail.trim() : null }];
    }
    odd('imageUrls', item);
    return [];
  });
}

/** `v` parsed when it is a JSON text of an object or array (new-api stores buttons and properties as text). */
function unwrapJsonText(v: unknown): unknown {
  if (typeof v !== 'string' || !/^\s*[[{]/.test(v)) return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

const asNumber = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : fallback);
const asLabel = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** Buttons: each needs a `customId`; missing `emoji`/`label` are "", missing `type`/`style` are 2. */
export function readButtons(v: unknown, odd: Odd): MjButton[] {
  if (nothing(v)) return [];
  const list = unwrapJsonText(v);
  if (!Array.isArray(list)) {
    odd('buttons', v);
    return [];
  }
  const out: MjButton[] = [];
  for (const b of list) {
    const customId = isObject(b) ? readId(b.customId) : null;
    if (!isObject(b) || !customId) {
      odd('buttons[]', b);
      continue;
    }
    out.push({ customId, emoji: asLabel(b.emoji), label: asLabel(b.label), type: asNumber(b.type, 2), style: asNumber(b.style, 2) });
  }
  return out;
}

function readProperties(v: unknown, odd: Odd): Record<string, unknown> {
  if (nothing(v)) return {};
  const p = unwrapJsonText(v);
  if (isObject(p)) return p;
  odd('properties', v);
  return {};
}

/** One task of `list-by-condition` or `fetch`; null when it has no usable id. */
export function readUpstreamTask(raw: unknown, odd: Odd = () => undefined): UpstreamTask | null {
  if (!isObject(raw)) return null;
  const id = readId(raw.id);
  if (!id) return null;
  const imageUrls = readImageUrls(raw.imageUrls, odd);
  return {
    id,
    status: readStatus(raw.status, odd),
    progress: parseProgress(raw.progress, odd),
    imageUrl: readUrl('imageUrl', raw.imageUrl, odd),
    ...(imageUrls.length > 0 ? { imageUrls } : {}),
    failReason: readText('failReason', raw.failReason, odd),
    promptEn: readText('promptEn', raw.promptEn, odd),
    buttons: readButtons(raw.buttons, odd),
    properties: readProperties(raw.properties, odd),
  };
}

/**
 * The text of an envelope that says what happened: `description` (midjourney-proxy), else the
 * message fields other servers use: `message` (trueai-org's `{"success":false,"code":…,"message"}`
 * from its exception filter, hosted MJ APIs), `msg`, an `error` string or `error.message`.
 */
function envelopeText(raw: Json, odd: Odd): string | null {
  const described = readText('description', raw.description, odd);
  if (described) return described;
  const error = raw.error;
  for (const v of [raw.message, raw.msg, typeof error === 'string' ? error : isObject(error) ? error.message : null]) {
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return null;
}

/**
 * A submit envelope, or null when it has no readable `code`. `code` may come as a number or a
 * numeric string; `result` as a string or a number; `properties` as anything (non-objects are {});
 * `description` from the first message field the server used (see envelopeText).
 */
export function readSubmitEnvelope(raw: unknown, odd: Odd = () => undefined): SubmitEnvelope | null {
  if (!isObject(raw)) return null;
  const code = typeof raw.code === 'number' ? raw.code : typeof raw.code === 'string' && /^\s*-?\d+\s*$/.test(raw.code) ? Number(raw.code) : NaN;
  if (!Number.isInteger(code)) return null;
  if (typeof raw.code !== 'number') odd('code', raw.code);
  const result = nothing(raw.result) ? null : readId(raw.result);
  if (!nothing(raw.result) && result === null) odd('result', raw.result);
  return { code, description: envelopeText(raw, odd), result, properties: readProperties(raw.properties, odd) };
}
