import { describe, expect, it } from 'vitest';
import { classifyCustomId, gridButtons, upscaleButtons } from '../../shared/families/mj/buttons.js';
import { parseProgress } from '../../shared/families/mj/protocol.js';
import { mjTaskJson, toMjTask } from '../../shared/families/mj/view.js';
import { newMjRequest, newMjTask } from '../../shared/families/mj/task.js';
import type { Inflight } from '../../shared/protocols/inflight.js';
import { changeFor } from '../../worker/families/mj/adapter.js';

describe('customId meanings', () => {
  it.each([
    ['MJ::JOB::upsample::2::abc', 'UPSCALE', false],
    ['MJ::JOB::upsample_v6_2x_subtle::1::abc::SOLO', 'UPSCALE', false],
    ['MJ::JOB::variation::3::abc', 'VARIATION', false],
    ['MJ::JOB::high_variation::1::abc::SOLO', 'VARIATION', false],
    ['MJ::JOB::reroll::0::abc::SOLO', 'REROLL', false],
    ['MJ::JOB::pan_left::1::abc::SOLO', 'PAN', false],
    ['MJ::Outpaint::50::1::abc::SOLO', 'ZOOM', false],
    ['MJ::CustomZoom::abc', 'ZOOM', true],
    ['MJ::Inpaint::1::abc::SOLO', 'VARIATION', true],
    ['MJ::Job::PicReader::3', 'IMAGINE', true],
    ['MJ::Job::PromptAnalyzer::1', 'IMAGINE', true],
    ['MJ::Picread::Retry', 'DESCRIBE', false],
    ['MJ::BOOKMARK::abc', 'ACTION', false],
  ])('%s is %s (modal: %s)', (customId, action, modal) => {
    expect(classifyCustomId(customId)).toMatchObject({ action, modal });
  });

  it('refuses ids that are not Midjourney buttons', () => {
    expect(classifyCustomId('U1')).toBeNull();
  });

  it('only Vary (Region) needs a mask', () => {
    const masks = [...gridButtons('h'), ...upscaleButtons('h')].filter((b) => classifyCustomId(b.customId)?.needsMask);
    expect(masks.map((b) => b.label)).toEqual(['Vary (Region)']);
  });
});

describe('MJ task view', () => {
  const base = newMjTask({ id: 'mj_AAAAAAAAAAAAAAAAAAAA', kind: 'mj.imagine', tenant: 't', mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '/imagine p' }) }, 1000);
  it.each([
    ['queued', null, 'NOT_START', '0%'],
    ['requires_action', null, 'MODAL', '0%'],
    ['running', 'SUBMITTED', 'SUBMITTED', '40%'],
    ['running', 'IN_PROGRESS', 'IN_PROGRESS', '40%'],
    ['succeeded', 'SUCCESS', 'SUCCESS', '100%'],
    ['failed', 'FAILURE', 'FAILURE', ''],
    ['canceled', null, 'CANCEL', '40%'],
  ] as const)('shows %s (upstream %s) as %s with progress "%s"', (status, up, mjStatus, progress) => {
    const v = toMjTask({ ...base, status, progress: status === 'queued' || status === 'requires_action' ? 0 : 40, upstream: up ? { channel: 'c', id: 'u', modalId: null, status: up } : null });
    expect(v.status).toBe(mjStatus);
    expect(v.progress).toBe(progress);
  });

  it('shows buttons only on SUCCESS', () => {
    const buttons = gridButtons('h');
    expect(toMjTask({ ...base, status: 'running', buttons }).buttons).toEqual([]);
    expect(toMjTask({ ...base, status: 'succeeded', buttons }).buttons).toHaveLength(9);
  });

  it.each(['queued', 'running', 'succeeded', 'failed', 'canceled'] as const)('serializes a %s task with its stored buttons as JSON.stringify does the decoded one', (status) => {
    const buttons = [...gridButtons('h'), { customId: 'MJ::x::"q"\\ü\u0001', emoji: '🔄', label: '</script>', type: 2, style: 2, extra: { n: 1e21, f: -0.5 } }];
    const task = { ...base, status, buttons, image_urls: status === 'succeeded' ? [{ url: 'u', thumbnail: null }] : [], error: status === 'failed' ? { code: 'x', message: 'boom "q"' } : null } as typeof base;
    const stored = JSON.stringify(buttons);
    expect(mjTaskJson(toMjTask({ ...task, buttons: [] }), stored)).toBe(JSON.stringify(toMjTask(task)));
  });

  it('serializes null or missing stored buttons as none', () => {
    const done = { ...base, status: 'succeeded' as const };
    expect(mjTaskJson(toMjTask(done), 'null')).toBe(JSON.stringify(toMjTask(done)));
    expect(mjTaskJson(toMjTask(done), undefined)).toBe(JSON.stringify(toMjTask(done)));
    expect(JSON.parse(mjTaskJson(toMjTask(done), undefined)).buttons).toEqual([]);
  });
});

describe('upstream progress', () => {
  const entry: Inflight = { tenant: 't', channel: 'c', upstreamId: 'u1', fingerprint: '', changedAt: 0, missingSince: null };

  it('reads "NN%"', () => {
    expect(parseProgress('45%')).toBe(45);
    expect(parseProgress('100%')).toBe(100);
    expect(parseProgress('')).toBeNull();
    expect(parseProgress('soon')).toBeNull();
  });

  it('copies progress and preview while running', () => {
    const c = changeFor({ id: 'u1', status: 'IN_PROGRESS', progress: 37, imageUrl: 'https://cdn/p.webp' }, entry, 5);
    expect(c).toMatchObject({ status: 'running', patch: { progress: 37, image_url: 'https://cdn/p.webp' } });
  });

  it('finishes with buttons and finalPrompt, dropping upstream-internal properties', () => {
    const c = changeFor(
      { id: 'u1', status: 'SUCCESS', progress: 100, imageUrl: 'https://cdn/i.png', buttons: gridButtons('h'), properties: { finalPrompt: 'fp', messageId: 'secret', discordInstanceId: 'x' } },
      entry,
      9,
    );
    expect(c?.status).toBe('succeeded');
    expect(c?.patch?.properties).toEqual({ finalPrompt: 'fp' });
    expect(c?.patch?.buttons).toHaveLength(9);
    expect(c?.patch?.completed_at).toBe(9);
  });

  it('fails with the upstream reason', () => {
    const c = changeFor({ id: 'u1', status: 'FAILURE', failReason: 'banned prompt' }, entry, 9);
    expect(c).toMatchObject({ status: 'failed', patch: { error: { type: 'upstream_error', message: 'banned prompt' } } });
  });
});
