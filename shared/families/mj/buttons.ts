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
