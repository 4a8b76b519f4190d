import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readButtons } from '../../shared/families/mj/upstream.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { mjUntil, simMj, startStack, waitFor, type Stack } from '../support/stack.js';

const H = '3f1c7a9e-2b4d-4e6f-8a0b-1c2d3e4f5a6b';
const h8 = 'ade29d25';
const b = (customId: unknown, emoji: unknown, label: unknown, extra: Record<string, unknown> = {}) => ({ customId, emoji, label, type: 2, style: 2, ...extra });

/**
 * Button lists as Midjourney-proxy servers and gateways send them (field order, emoji names,
 * missing or extra fields, clicked styles, other hashes), for the compact stored form to give back.
 */
const LISTS: Record<string, unknown[]> = {
  grid: [1, 2, 3, 4].map((n) => b(`MJ::JOB::upsample::${n}::${H}`, '', `U${n}`)).concat([b(`MJ::JOB::reroll::0::${H}::SOLO`, '🔄', '')], [1, 2, 3, 4].map((n) => b(`MJ::JOB::variation::${n}::${H}`, '', `V${n}`))),
  // Discord emoji names (trueai-org style), V7 upscales, animate and bookmark.
  v7: [
    b(`MJ::JOB::upsample_v7_2x_subtle::1::${H}::SOLO`, 'upscale_1', 'Upscale (Subtle)'),
    b(`MJ::JOB::upsample_v7_2x_creative::1::${H}::SOLO`, 'upscale_1', 'Upscale (Creative)'),
    b(`MJ::JOB::low_variation::1::${H}::SOLO`, 'vary_subtle', 'Vary (Subtle)'),
    b(`MJ::JOB::high_variation::1::${H}::SOLO`, '🪄', 'Vary (Strong)'),
    b(`MJ::Inpaint::1::${H}::SOLO`, '🖌️', 'Vary (Region)'),
    b(`MJ::Outpaint::50::1::${H}::SOLO`, '🔍', 'Zoom Out 2x'),
    b(`MJ::Outpaint::75::1::${H}::SOLO`, '🔍', 'Zoom Out 1.5x'),
    b(`MJ::CustomZoom::${H}`, '🔍', 'Custom Zoom'),
    b(`MJ::JOB::pan_left::1::${H}::SOLO`, '⬅️', ''),
    b(`MJ::JOB::pan_right::1::${H}::SOLO`, '➡️', ''),
    b(`MJ::JOB::pan_up::1::${H}::SOLO`, '⬆️', ''),
    b(`MJ::JOB::pan_down::1::${H}::SOLO`, '⬇️', ''),
    b(`MJ::JOB::animate_high::1::${H}::SOLO`, '🎞️', 'Animate (High motion)'),
    b(`MJ::BOOKMARK::${H}`, '❤️', ''),
  ],
  // A gateway: short hash, null emoji, numeric label, no type/style, extra keys, a clicked U1 (style 1).
  gateway: [
    { customId: `MJ::JOB::upsample::1::${h8}`, label: 'U1', emoji: null, style: 1 },
    { label: 'U2', customId: `MJ::JOB::upsample::2::${h8}`, emoji: null, disabled: false, url: null },
    { customId: `MJ::JOB::reroll::0::${h8}::SOLO`, emoji: '🔄', label: null, type: '2', style: '2' },
    { customId: ` MJ::JOB::variation::1::${h8} `, emoji: '', label: 'V1', type: 2, style: 2 },
    { customId: `MJ::JOB::variation::2::${H}`, emoji: '', label: 'V2', type: 2, style: 2 },
    { customId: `MJ::JOB::upsample::3::${h8}`, emoji: { name: '🔄', id: null }, label: 3, type: 2.5, style: 4 },
  ],
  // Describe and shorten results.
  describe: [1, 2, 3, 4].map((n) => b(`MJ::Job::PicReader::${n}`, '', String(n))).concat([b('MJ::Picread::Retry', '🔄', ''), b('MJ::Job::PicReader::all', '', 'Imagine all')]),
  shorten: [1, 2, 3, 4, 5].map((n) => b(`MJ::Job::PromptAnalyzer::${n}`, '', String(n))).concat([b('MJ::Prompt_Analyzer::Show_Details', '', 'Show Details')]),
  // Odd texts: unicode, the placeholder the templates use, `$&` (a replace pattern), an empty hash.
  odd: [
    b('MJ::JOB::upsample::1::{h}', '', 'U1'),
    b('MJ::JOB::upsample::2::$&', '', 'U2'),
    b('MJ::JOB::upsample::3::', '', 'U3'),
    b('MJ::JOB::upsample::4::ünï©ødé-🎨', '', 'U4'),
    b(`MJ::JOB::reroll::0::${H}::SOLO`, '🔄', '\u0000\u2028'),
  ],
};

const PROPS: Record<string, Record<string, unknown>> = {
  grid: { finalPrompt: '狐狸 in the snow — “quotes” \u2028 🦊 --ar 16:9' },
  v7: { finalPrompt: 'x'.repeat(5000), finalZhPrompt: null },
  // (An integer past 2^53 comes back as its digits in a string: the MJ client keeps big integers, by design.)
  gateway: { finalPrompt: { nested: [null, { deep: null }], big: 1e308, n: -0.5, s: '' } },
  describe: { finalPrompt: '1️⃣ a\n\n2️⃣ b' },
  shorten: { finalPrompt: '' },
  odd: { finalPrompt: 0, finalZhPrompt: false },
};

/** The upstream's button lists, clicked at SUCCESS, come back exactly from every read path. */
describe('MJ tasks with real button lists and odd properties, stored compactly (breaker)', () => {
  let s: Stack;
  let rx: Receiver;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 200 }, env: { MJ_POLL_INTERVAL_MS: '50', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' } });
    rx = await startReceiver();
  });
  afterEach(() => {
    simMj(s.sim).reshape = null;
  });
  afterAll(async () => {
    await rx?.close();
    await s?.close();
  });

  it.each(Object.keys(LISTS))('the %s list: fetch, list-by-condition, notifyHook, /v1/tasks and the webhook snapshot agree with the upstream', async (name) => {
    const list = LISTS[name]!;
    const props = PROPS[name]!;
    simMj(s.sim).reshape = (t) => (String(t.prompt).includes(`list-${name} `) || String(t.prompt).endsWith(`list-${name}`) ? (t.status === 'SUCCESS' ? { ...t, buttons: list, properties: props } : t) : t);
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: `list-${name}`, notifyHook: rx.url } });
    expect(r.body.code).toBe(1);
    const id = r.body.result as string;
    await mjUntil(s.call, id, ['SUCCESS']);
    const expected = readButtons(list, () => undefined);
    const fetched = (await s.call('GET', `/mj/task/${id}/fetch`)).body;
    expect(JSON.stringify(fetched.buttons)).toBe(JSON.stringify(expected));
    for (const [k, v] of Object.entries(props)) if (['finalPrompt', 'finalZhPrompt', 'promptEn'].includes(k) && v !== undefined) expect(JSON.stringify(fetched.properties[k]), k).toBe(JSON.stringify(v));
    const listed = (await s.call('POST', '/mj/task/list-by-condition', { body: { ids: [id] } })).body;
    expect(JSON.stringify(listed)).toBe(JSON.stringify([fetched]));
    const hook = await waitFor(async () => rx.received.find((x) => x.body?.id === id && x.body?.status === 'SUCCESS'), { what: 'the SUCCESS callback' });
    expect(JSON.stringify(hook.body)).toBe(JSON.stringify(fetched));
    const generic = (await s.call('GET', `/v1/tasks/${id}`)).body;
    expect(generic.id).toBe(id);
    expect(JSON.stringify(generic.output?.buttons ?? expected)).toBe(JSON.stringify(expected));
  });

  it('a task changed back to its defaults reads as the defaults (buttons [] and properties {} after a non-empty value)', async () => {
    simMj(s.sim).reshape = (t) => (String(t.prompt).includes('back-to-default') ? (t.status === 'IN_PROGRESS' ? { ...t, buttons: LISTS.grid, properties: PROPS.grid } : t.status === 'SUCCESS' ? { ...t, buttons: [], properties: {} } : t) : t);
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'back-to-default --sim-ms 600' } });
    const id = r.body.result as string;
    await mjUntil(s.call, id, ['SUCCESS']);
    const fetched = (await s.call('GET', `/mj/task/${id}/fetch`)).body;
    expect(fetched.buttons).toEqual([]);
    expect(fetched.properties.finalPrompt).toBeUndefined();
  });
});
