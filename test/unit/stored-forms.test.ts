import { describe, expect, it } from 'vitest';
import { compactButtons, describeButtons, expandButtons, gridButtons, shortenButtons, upscaleButtons } from '../../shared/families/mj/buttons.js';
import type { MjButton } from '../../shared/families/mj/task.js';
import { FAMILIES } from '../../shared/families/catalog.js';
import { defaultsForm, listForm } from '../../shared/tasks/forms.js';

const b = (customId: string, emoji: string, label: string, style = 2, type = 2): MjButton => ({ customId, emoji, label, type, style });
const stored = (list: MjButton[]) => JSON.parse(JSON.stringify(compactButtons(list))) as unknown;

/** Button lists as Midjourney-proxy servers answer them (after readButtons). */
const LISTS: Record<string, MjButton[]> = {
  grid: gridButtons('f9991782-9293-437c-855c-c2cca3eb69a3'),
  upscale: upscaleButtons('7af96d1a-67c7-4d74-b173-8430c98c7631'),
  describe: describeButtons(),
  shorten: shortenButtons(),
  // A gateway's imagine grid: short hash, bookmark, the zoom and region buttons beside it.
  gateway: [
    b('MJ::JOB::upsample::1::ade29d25', '', 'U1'),
    b('MJ::JOB::upsample::2::ade29d25', '', 'U2'),
    b('MJ::JOB::reroll::0::ade29d25::SOLO', '🔄', ''),
    b('MJ::JOB::variation::1::ade29d25', '', 'V1'),
    b('MJ::CustomZoom::ade29d25', '🔍', 'Custom Zoom'),
    b('MJ::Inpaint::1::ade29d25::SOLO', '🖌️', 'Vary (Region)'),
    b('MJ::BOOKMARK::ade29d25', '❤️', ''),
  ],
  // A V5 upscale, and Discord's own emoji names where other servers give the character.
  v5: [
    b('MJ::JOB::variation::1::39d7cf9f-c2f0-4adf-a124-0020fb9f867f::SOLO', '🪄', 'Make Variations'),
    b('MJ::JOB::upsample_v5_2x::1::39d7cf9f-c2f0-4adf-a124-0020fb9f867f::SOLO', 'upscale_1', 'Upscale (2x)'),
    b('MJ::JOB::upsample_v5_4x::1::39d7cf9f-c2f0-4adf-a124-0020fb9f867f::SOLO', 'upscale_1', 'Upscale (4x)'),
    b('MJ::JOB::upsample_v6_2x_subtle::1::39d7cf9f-c2f0-4adf-a124-0020fb9f867f::SOLO', 'upscale_1', 'Upscale (Subtle)'),
  ],
  // Buttons no template has, a clicked one (style 1), another message's hash, odd types.
  odd: [
    b('MJ::JOB::upsample::1::aaaa', '', 'U1', 1),
    b('MJ::JOB::animate_high::1::aaaa::SOLO', '🎞️', 'Animate (High motion)'),
    b('MJ::JOB::upsample::2::bbbb', '', 'U2'),
    b('MJ::JOB::upsample::3::aaaa', '', 'U3', 2, 3),
    b('MJ::JOB::upsample::{h}', '', 'U1'),
    b('MJ::Picread::Retry', '🔄', ''),
    b('not-mj', '', ''),
    { label: 'U4', customId: 'MJ::JOB::upsample::4::aaaa', emoji: '', type: 2, style: 2 },
  ],
};

describe('MJ buttons stored as template indices', () => {
  it.each(Object.keys(LISTS))('gives back the %s list exactly, JSON text for JSON text', (name) => {
    const list = LISTS[name]!;
    expect(JSON.stringify(expandButtons(stored(list)))).toBe(JSON.stringify(list));
  });

  it('stores a grid of nine buttons in under 80 bytes instead of ~1 KB', () => {
    const grid = LISTS.grid!;
    expect(JSON.stringify(grid).length).toBeGreaterThan(1000);
    expect(stored(grid)).toEqual({ h: 'f9991782-9293-437c-855c-c2cca3eb69a3', b: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    expect(JSON.stringify(stored(grid)).length).toBeLessThan(80);
  });

  it('keeps a button of its own as it is, and a template button with its own emoji, label, type and style', () => {
    const odd = stored(LISTS.odd!) as { h: string; b: unknown[] };
    expect(odd.h).toBe('aaaa');
    expect(odd.b[0]).toEqual([0, '', 'U1', 2, 1]);
    expect(odd.b[1]).toEqual(LISTS.odd![1]);
    expect(odd.b[2]).toEqual(LISTS.odd![2]);
    expect(odd.b[4]).toEqual(LISTS.odd![4]);
    expect(odd.b[7]).toEqual(LISTS.odd![7]);
  });

  it('reads a list stored as it is (records written before the compact form)', () => {
    const plain = JSON.parse(JSON.stringify(LISTS.grid)) as unknown;
    expect(expandButtons(plain)).toEqual(LISTS.grid);
    expect(expandButtons([])).toEqual([]);
  });
});

describe('objects stored without their defaults', () => {
  const form = defaultsForm(['channel', 'at', 'outcome', 'status', 'error'], { status: null, error: null });

  it('leaves out the defaults and puts them back in their place', () => {
    const attempt = { channel: 'c', at: 1, outcome: 'succeeded', status: null, error: null };
    expect(form.pack(attempt)).toEqual({ channel: 'c', at: 1, outcome: 'succeeded' });
    expect(JSON.stringify(form.unpack(form.pack(attempt)))).toBe(JSON.stringify(attempt));
    const failed = { ...attempt, status: 502, error: 'bad gateway' };
    expect(form.pack(failed)).toEqual(failed);
    expect(form.unpack(null)).toBeNull();
    expect(JSON.stringify(listForm(form).unpack(listForm(form).pack([attempt, failed])))).toBe(JSON.stringify([attempt, failed]));
  });

  it('reads a whole object (an older record) as it is', () => {
    const whole = { channel: 'c', at: 1, outcome: 'moved', status: 429, error: null };
    expect(JSON.stringify(form.unpack(whole))).toBe(JSON.stringify(whole));
  });
});

describe('family defaults a new record leaves out', () => {
  // The store leaves out a family field that holds what `complete` puts back in an empty record,
  // so `complete` must put back each one whatever the others hold.
  it.each(FAMILIES.filter((f) => f.complete).map((f) => f.name))('%s puts back each default on its own', (name) => {
    const family = FAMILIES.find((f) => f.name === name)!;
    const defaults = family.complete!({} as never) as unknown as Record<string, unknown>;
    for (const field of Object.keys(defaults)) {
      const others = Object.fromEntries(Object.keys(defaults).filter((k) => k !== field).map((k) => [k, 'other']));
      const back = family.complete!({ ...others } as never) as unknown as Record<string, unknown>;
      expect(JSON.stringify(back[field]), `${name}.${field}`).toBe(JSON.stringify(defaults[field]));
    }
  });
});
