import type { TaskBase, UpstreamRef } from '../../tasks/model.js';
import { newTask } from '../../tasks/new.js';

/** The task kinds of the Midjourney-proxy family (a wire format). */
export const MJ_KINDS = ['mj.imagine', 'mj.blend', 'mj.describe', 'mj.shorten', 'mj.action', 'mj.modal', 'mj.swap_face'] as const;
export type MjKind = (typeof MJ_KINDS)[number];

export const MJ_ACTIONS = [
  'IMAGINE',
  'UPSCALE',
  'VARIATION',
  'REROLL',
  'ZOOM',
  'PAN',
  'DESCRIBE',
  'BLEND',
  'SHORTEN',
  'SWAP_FACE',
  'ACTION',
] as const;
export type MjAction = (typeof MJ_ACTIONS)[number];

export interface MjButton {
  customId: string;
  emoji: string;
  label: string;
  type: number;
  style: number;
}

/** One image of a grid as the upstream gives it (`imageUrls` item). */
export interface MjImage {
  url: string;
  thumbnail: string | null;
}

/** What an MJ task was asked for; written once at creation. */
export interface MjRequest {
  action: MjAction;
  prompt: string;
  description: string;
  state: string | null;
  botType: 'MID_JOURNEY' | 'NIJI_JOURNEY' | 'INSIGHT_FACE';
  mode: 'FAST' | 'RELAX' | 'TURBO' | null;
  notifyHook: string | null;
  /** For actions: the relayq parent task and the button clicked. */
  parentId: string | null;
  customId: string | null;
  dimensions: 'PORTRAIT' | 'SQUARE' | 'LANDSCAPE' | null;
  link: string | null;
}

/** Where an MJ task lives upstream; between an action's code 21 and our modal call, the upstream's MODAL task id. */
export interface MjUpstreamRef extends UpstreamRef {
  modalId: string | null;
}

/** An MJ task: what it was asked for, and what the upstream reported (image, buttons, properties). */
export interface MjTask extends TaskBase<MjKind> {
  family: 'mj';
  mj: MjRequest;
  upstream: MjUpstreamRef | null;
  /** The preview or final image, as the upstream reports it. */
  image_url: string | null;
  /** The grid's single images, when the upstream gives them (`imageUrls`); [] otherwise. */
  image_urls: MjImage[];
  buttons: MjButton[];
  properties: Record<string, unknown>;
  /** The modal step's input (prompt); the mask is a blob. */
  modal: { prompt: string | null; mask: boolean } | null;
  seed: string | null;
}

/** A fresh MJ task: the base fields, nothing reported by the upstream yet, and what was asked. */
export function newMjTask(fields: Pick<MjTask, 'id' | 'kind' | 'tenant' | 'mj'> & Partial<Omit<MjTask, 'family'>>, now = Date.now()): MjTask {
  return newTask<MjTask>({ family: 'mj', image_url: null, image_urls: [], buttons: [], properties: {}, modal: null, seed: null, ...fields }, now);
}

/** The defaults of an MJ request's optional fields, in the order a request has them (before the others). */
export const MJ_REQUEST_DEFAULTS: Readonly<Omit<MjRequest, 'action' | 'prompt' | 'description'>> = {
  state: null,
  botType: 'MID_JOURNEY',
  mode: null,
  notifyHook: null,
  parentId: null,
  customId: null,
  dimensions: null,
  link: null,
};

/** An MJ request with the defaults of every optional field (absent fields keep them). */
export function newMjRequest(fields: Partial<MjRequest> & Pick<MjRequest, 'action' | 'prompt' | 'description'>): MjRequest {
  return {
    ...MJ_REQUEST_DEFAULTS,
    ...(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as typeof fields),
  };
}
