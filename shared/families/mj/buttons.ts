import type { MjAction, MjButton } from './task.js';

/**
 * What clicking a button does, read from its customId (`MJ::<kind>::…::<messageHash>`).
 * `modal` marks the buttons that always need the second step (`/mj/submit/modal`): Custom Zoom,
 * Vary (Region), describe's "imagine this" (PicReader n) and shorten's (PromptAnalyzer n).
 */
export interface ButtonMeaning {
  action: MjAction;
  modal: boolean;
  /** Vary (Region): the modal step needs `maskBase64`. */
  needsMask: boolean;
}

const RULES: [RegExp, ButtonMeaning][] = [
  [/^MJ::JOB::upsample(_[a-z0-9_]+)?::\d+::/, { action: 'UPSCALE', modal: false, needsMask: false }],
  [/^MJ::JOB::(low_|high_)?variation::\d+::/, { action: 'VARIATION', modal: false, needsMask: false }],
  [/^MJ::JOB::reroll::/, { action: 'REROLL', modal: false, needsMask: false }],
  [/^MJ::JOB::pan_(left|right|up|down)::/, { action: 'PAN', modal: false, needsMask: false }],
  [/^MJ::Outpaint::\d+::/, { action: 'ZOOM', modal: false, needsMask: false }],
  [/^MJ::CustomZoom::/, { action: 'ZOOM', modal: true, needsMask: false }],
  [/^MJ::Inpaint::/, { action: 'VARIATION', modal: true, needsMask: true }],
  [/^MJ::Job::PicReader::[1-9]$/, { action: 'IMAGINE', modal: true, needsMask: false }],
  [/^MJ::Job::PromptAnalyzer::[1-9]$/, { action: 'IMAGINE', modal: true, needsMask: false }],
  [/^MJ::Picread::Retry$/, { action: 'DESCRIBE', modal: false, needsMask: false }],
];

export function classifyCustomId(customId: string): ButtonMeaning | null {
  if (!customId.startsWith('MJ::')) return null;
  for (const [re, meaning] of RULES) if (re.test(customId)) return meaning;
  // Bookmarks, video and future buttons: relayed as a plain action.
  return { action: 'ACTION', modal: false, needsMask: false };
}

const btn = (customId: string, label: string, emoji = '', style = 2): MjButton => ({ customId, emoji, label, type: 2, style });

/** The buttons Midjourney shows under a four-image grid (imagine, variation, reroll, blend, zoom, pan). */
export function gridButtons(hash: string): MjButton[] {
  return [
    ...[1, 2, 3, 4].map((n) => btn(`MJ::JOB::upsample::${n}::${hash}`, `U${n}`)),
    btn(`MJ::JOB::reroll::0::${hash}::SOLO`, '', '🔄'),
    ...[1, 2, 3, 4].map((n) => btn(`MJ::JOB::variation::${n}::${hash}`, `V${n}`)),
  ];
}

/** The buttons under one upscaled image. */
export function upscaleButtons(hash: string): MjButton[] {
  return [
    btn(`MJ::JOB::upsample_v6_2x_subtle::1::${hash}::SOLO`, 'Upscale (Subtle)', '⬆️'),
    btn(`MJ::JOB::upsample_v6_2x_creative::1::${hash}::SOLO`, 'Upscale (Creative)', '⬆️'),
    btn(`MJ::JOB::low_variation::1::${hash}::SOLO`, 'Vary (Subtle)', '🪄'),
    btn(`MJ::JOB::high_variation::1::${hash}::SOLO`, 'Vary (Strong)', '🪄'),
    btn(`MJ::Inpaint::1::${hash}::SOLO`, 'Vary (Region)', '🖌️'),
    btn(`MJ::Outpaint::50::1::${hash}::SOLO`, 'Zoom Out 2x', '🔍'),
    btn(`MJ::Outpaint::75::1::${hash}::SOLO`, 'Zoom Out 1.5x', '🔍'),
    btn(`MJ::CustomZoom::${hash}`, 'Custom Zoom', '🔍'),
    btn(`MJ::JOB::pan_left::1::${hash}::SOLO`, '', '⬅️'),
    btn(`MJ::JOB::pan_right::1::${hash}::SOLO`, '', '➡️'),
    btn(`MJ::JOB::pan_up::1::${hash}::SOLO`, '', '⬆️'),
    btn(`MJ::JOB::pan_down::1::${hash}::SOLO`, '', '⬇️'),
  ];
}

/** The buttons under a describe result. */
export function describeButtons(): MjButton[] {
  return [
    ...[1, 2, 3, 4].map((n) => btn(`MJ::Job::PicReader::${n}`, String(n))),
    btn('MJ::Picread::Retry', '', '🔄'),
  ];
}

/** The buttons under a shorten result. */
export function shortenButtons(): MjButton[] {
  return [1, 2, 3, 4, 5].map((n) => btn(`MJ::Job::PromptAnalyzer::${n}`, String(n)));
}

/**
 * The buttons Midjourney shows, as `[customId, emoji, label]` with type 2 and style 2, `{h}` for
 * the message hash: templates of a button list's stored form (a button equal to one is stored as
 * its index). A stored format: append only, never change or reorder an entry.
 */
const TEMPLATES: readonly (readonly [string, string, string])[] = [
  ['MJ::JOB::upsample::1::{h}', '', 'U1'],
  ['MJ::JOB::upsample::2::{h}', '', 'U2'],
  ['MJ::JOB::upsample::3::{h}', '', 'U3'],
  ['MJ::JOB::upsample::4::{h}', '', 'U4'],
  ['MJ::JOB::reroll::0::{h}::SOLO', '🔄', ''],
  ['MJ::JOB::variation::1::{h}', '', 'V1'],
  ['MJ::JOB::variation::2::{h}', '', 'V2'],
  ['MJ::JOB::variation::3::{h}', '', 'V3'],
  ['MJ::JOB::variation::4::{h}', '', 'V4'],
  ['MJ::JOB::upsample_v6_2x_subtle::1::{h}::SOLO', '⬆️', 'Upscale (Subtle)'],
  ['MJ::JOB::upsample_v6_2x_creative::1::{h}::SOLO', '⬆️', 'Upscale (Creative)'],
  ['MJ::JOB::low_variation::1::{h}::SOLO', '🪄', 'Vary (Subtle)'],
  ['MJ::JOB::high_variation::1::{h}::SOLO', '🪄', 'Vary (Strong)'],
  ['MJ::Inpaint::1::{h}::SOLO', '🖌️', 'Vary (Region)'],
  ['MJ::Outpaint::50::1::{h}::SOLO', '🔍', 'Zoom Out 2x'],
  ['MJ::Outpaint::75::1::{h}::SOLO', '🔍', 'Zoom Out 1.5x'],
  ['MJ::CustomZoom::{h}', '🔍', 'Custom Zoom'],
  ['MJ::JOB::pan_left::1::{h}::SOLO', '⬅️', ''],
  ['MJ::JOB::pan_right::1::{h}::SOLO', '➡️', ''],
  ['MJ::JOB::pan_up::1::{h}::SOLO', '⬆️', ''],
  ['MJ::JOB::pan_down::1::{h}::SOLO', '⬇️', ''],
  ['MJ::BOOKMARK::{h}', '❤️', ''],
  ['MJ::Job::PicReader::1', '', '1'],
  ['MJ::Job::PicReader::2', '', '2'],
  ['MJ::Job::PicReader::3', '', '3'],
  ['MJ::Job::PicReader::4', '', '4'],
  ['MJ::Picread::Retry', '🔄', ''],
  ['MJ::Job::PromptAnalyzer::1', '', '1'],
  ['MJ::Job::PromptAnalyzer::2', '', '2'],
  ['MJ::Job::PromptAnalyzer::3', '', '3'],
  ['MJ::Job::PromptAnalyzer::4', '', '4'],
  ['MJ::Job::PromptAnalyzer::5', '', '5'],
  ['MJ::JOB::upsample_v7_2x_subtle::1::{h}::SOLO', '⬆️', 'Upscale (Subtle)'],
  ['MJ::JOB::upsample_v7_2x_creative::1::{h}::SOLO', '⬆️', 'Upscale (Creative)'],
  ['MJ::JOB::upsample_v5_2x::1::{h}::SOLO', '⬆️', 'Upscale (2x)'],
  ['MJ::JOB::upsample_v5_4x::1::{h}::SOLO', '⬆️', 'Upscale (4x)'],
  ['MJ::JOB::variation::1::{h}::SOLO', '🪄', 'Make Variations'],
];

const templateOf = new Map(TEMPLATES.map(([customId], i) => [customId, i]));

/**
 * One button of the stored form: a template's index (the button as the template has it), the
 * index with the button's own `[emoji, label, type, style]`, or the button itself.
 */
type StoredButton = number | [number, string, string, number, number] | MjButton;

/** A button list's stored form: its buttons, `h` the message hash their templates share. */
export interface StoredButtons {
  h?: string;
  b: StoredButton[];
}

/** Where the message hash is in a customId: its last part, or the one before a last `SOLO`. */
function hashAt(parts: string[]): number {
  return parts.at(-1) === 'SOLO' ? parts.length - 2 : parts.length - 1;
}

function expand(item: StoredButton, h: string | undefined): MjButton {
  if (typeof item === 'object' && !Array.isArray(item)) return item;
  const [i, own] = typeof item === 'number' ? [item, null] : [item[0], item];
  const t = TEMPLATES[i];
  if (!t) throw new Error(`not a button template: ${i}`);
  const customId = h === undefined ? t[0] : t[0].replace('{h}', () => h);
  return own ? { customId, emoji: own[1], label: own[2], type: own[3], style: own[4] } : { customId, emoji: t[1], label: t[2], type: 2, style: 2 };
}

/**
 * A button list as stored in a task record: the buttons Midjourney shows (TEMPLATES) as indices
 * against the message hash, any other button as it is. `expandButtons` gives back exactly the
 * list (each button's JSON text).
 */
export function compactButtons(list: MjButton[]): StoredButtons {
  let h: string | undefined;
  const b = list.map((button): StoredButton => {
    let i = templateOf.get(button.customId);
    let hash = h;
    if (i !== undefined && TEMPLATES[i]![0].includes('{h}')) i = undefined;
    if (i === undefined && typeof button.customId === 'string') {
      const parts = button.customId.split('::');
      const at = hashAt(parts);
      if (at > 0 && (h === undefined || parts[at] === h)) {
        hash = parts[at];
        parts[at] = '{h}';
        i = templateOf.get(parts.join('::'));
      }
    }
    if (i === undefined) return button;
    const t = TEMPLATES[i]!;
    const item: StoredButton = button.emoji === t[1] && button.label === t[2] && button.type === 2 && button.style === 2 ? i : [i, button.emoji, button.label, button.type, button.style];
    // Anything the item would not give back (another key order, more keys): the button as it is.
    if (JSON.stringify(expand(item, hash)) !== JSON.stringify(button)) return button;
    if (t[0].includes('{h}')) h = hash;
    return item;
  });
  return h === undefined ? { b } : { h, b };
}

/** The button list of a stored form; a list stored as it is (older records) stays as it is. */
export function expandButtons(stored: unknown): unknown {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored) || !Array.isArray((stored as StoredButtons).b)) return stored;
  const { h, b } = stored as StoredButtons;
  return b.map((item) => expand(item, h));
}
