import type { TaskBase } from '../../tasks/model.js';
import { newTask } from '../../tasks/new.js';

/** The task kinds of the Suno family (a wire format). An extend (`continue_clip_id`) is a `suno.music`. */
export const SUNO_KINDS = ['suno.music', 'suno.lyrics'] as const;
export type SunoKind = (typeof SUNO_KINDS)[number];

/** The `action` of a Suno task object: what suno-api and new-api call the two submit routes. */
export type SunoAction = 'MUSIC' | 'LYRICS';
export const actionOf = (kind: SunoKind): SunoAction => (kind === 'suno.lyrics' ? 'LYRICS' : 'MUSIC');

/** What a Suno task was asked for; written once at creation. */
export interface SunoRequest {
  /**
   * The submit body as the upstream gets it: the client's fields, known ones in their proper JSON
   * types (`make_instrumental` a boolean, `continue_at` a number), without `task_id` (relayq puts
   * the parent's upstream id there for an extend) and `notify_hook` (relayq delivers it).
   */
  body: Record<string, unknown>;
  /** For an extend: the relayq task that made the clip (`task_id` as the client sent it). */
  parentId: string | null;
  /** The model version asked for (`mv`), for routing by a channel's `models`; null when not given. */
  mv: string | null;
}

/** A Suno task: what was asked, and the upstream's `data` (clips for MUSIC, the lyrics object for LYRICS). */
export interface SunoTask extends TaskBase<SunoKind> {
  family: 'suno';
  suno: SunoRequest;
  /**
   * The upstream's `data` as it last reported it: for MUSIC an array of clip objects (ids and media
   * URLs relayed as given), for LYRICS one `{id, status, title, text}` object; null before any.
   */
  data: unknown;
}

/** A fresh Suno task: nothing reported by the upstream yet. */
export function newSunoTask(fields: Pick<SunoTask, 'id' | 'kind' | 'tenant' | 'suno'> & Partial<Omit<SunoTask, 'family'>>, now = Date.now()): SunoTask {
  return newTask<SunoTask>({ family: 'suno', data: null, ...fields }, now);
}
