import { describe, expect, it } from 'vitest';
import { parseProgress, readSubmitEnvelope, readUpstreamTask } from '../../shared/families/mj/upstream.js';
import type { Inflight } from '../../shared/protocols/inflight.js';
import { changeFor } from '../../worker/families/mj/adapter.js';

const entry: Inflight = { tenant: 't', channel: 'c', upstreamId: '1712345678901', fingerprint: '', changedAt: 0, missingSince: null };

describe('upstream MJ task, read field by field', () => {
  it('finishes a task whose SUCCESS comes with "progress": 100 as a number', () => {
    const u = readUpstreamTask({ id: '1712345678901', status: 'SUCCESS', progress: 100, imageUrl: 'https://cdn/i.png', buttons: [] });
    expect(u).not.toBeNull();
    expect(changeFor(u!, entry, 9)).toMatchObject({ status: 'succeeded', patch: { progress: 100, image_url: 'https://cdn/i.png' } });
  });

  it.each([
    ['45%', 45],
    [45, 45],
    [45.5, 45],
    ['45', 45],
    ['45.5%', 45],
    [' 45 % ', 45],
    ['100%', 100],
    ['0%', 0],
    ['0.45', 0],
    [150, 100],
    [-3, 0],
    [null, null],
    ['', null],
    [undefined, null],
    ['soon', null],
    [{}, null],
  ] as const)('reads progress %j as %j', (raw, expected) => {
    expect(parseProgress(raw)).toBe(expected);
  });

  it('never drops a task for an odd field, and reports each odd field', () => {
    const odd: string[] = [];
    const u = readUpstreamTask(
      {
        id: 1712345678901,
        status: 'in_progress',
        progress: 'half',
        imageUrl: { url: 'https://x' },
        failReason: { code: 1 },
        promptEn: 42,
        buttons: [{ customId: 'MJ::JOB::upsample::1::h', emoji: null, label: 'U1' }, { label: 'no id' }, 'junk'],
        properties: 'not an object',
      },
      (field) => odd.push(field),
    );
    expect(u).toEqual({ id: '1712345678901', status: 'IN_PROGRESS', progress: null, imageUrl: null, failReason: null, promptEn: '42', buttons: [{ customId: 'MJ::JOB::upsample::1::h', emoji: '', label: 'U1', type: 2, style: 2 }], properties: {} });
    expect(odd.sort()).toEqual(['buttons[]', 'buttons[]', 'failReason', 'imageUrl', 'progress', 'properties'].sort());
  });

  it('reads statuses in other spellings, buttons and properties kept as JSON text, blanks as absent', () => {
    const u = readUpstreamTask({ id: 'a', status: 'failed', imageUrl: '', failReason: '', buttons: '[{"customId":"MJ::JOB::reroll::0::h::SOLO","type":"2","style":1}]', properties: '{"finalPrompt":"fp"}' });
    expect(u).toMatchObject({ status: 'FAILURE', imageUrl: null, failReason: null, buttons: [{ customId: 'MJ::JOB::reroll::0::h::SOLO', type: 2, style: 1, emoji: '', label: '' }], properties: { finalPrompt: 'fp' } });
    expect(readUpstreamTask({ id: 'b', status: 'CANCELLED' })?.status).toBe('CANCEL');
    expect(['submitted', 'PENDING', 'RUNNING', 'IN_PROGRESS', 'unknown'].map((status) => readUpstreamTask({ id: 'n', status })?.status)).toEqual(['SUBMITTED', 'SUBMITTED', 'IN_PROGRESS', 'IN_PROGRESS', 'UNKNOWN']);
    expect(readUpstreamTask({ id: 'c', status: 3 })?.status).toBeNull();
  });

  it('makes an item unusable only for a missing or unusable id', () => {
    expect(readUpstreamTask({ status: 'SUCCESS' })).toBeNull();
    expect(readUpstreamTask({ id: '', status: 'SUCCESS' })).toBeNull();
    expect(readUpstreamTask({ id: 1.5 })).toBeNull();
    expect(readUpstreamTask('x')).toBeNull();
    expect(readUpstreamTask({ id: ' 17 ' })?.id).toBe('17');
  });

  it('leaves a task with an unknown status followed, not changed', () => {
    expect(changeFor(readUpstreamTask({ id: 'a', status: '', progress: '0%' })!, entry, 1)).toBeNull();
  });
});

describe('upstream submit envelope', () => {
  it('reads code as a number or numeric string, result as a string or number', () => {
    expect(readSubmitEnvelope({ code: '1', description: 'ok', result: 1712345678901234, properties: null })).toEqual({ code: 1, description: 'ok', result: '1712345678901234', properties: {} });
    expect(readSubmitEnvelope({ code: 22, result: '17', properties: { numberOfQueues: 2 } })).toMatchObject({ code: 22, result: '17', properties: { numberOfQueues: 2 } });
    expect(readSubmitEnvelope({ code: 4, description: 'bad', result: null })).toMatchObject({ code: 4, result: null, description: 'bad' });
  });

  it('reads the message of envelopes that have no description (trueai-org, hosted MJ APIs)', () => {
    const trueai = { success: false, code: -1, message: '今日绘图次数已达上限', timestamp: '638512345678901234' };
    expect(readSubmitEnvelope(trueai)).toMatchObject({ code: -1, description: '今日绘图次数已达上限', result: null });
    expect(readSubmitEnvelope({ code: 500, msg: 'account banned' })?.description).toBe('account banned');
    expect(readSubmitEnvelope({ code: 4, error: 'prompt too long' })?.description).toBe('prompt too long');
    expect(readSubmitEnvelope({ code: 4, error: { message: 'bad image' } })?.description).toBe('bad image');
    expect(readSubmitEnvelope({ code: 4, description: 'described', message: 'not this' })?.description).toBe('described');
    expect(readSubmitEnvelope({ code: 4, description: ' ', message: '' })?.description).toBeNull();
  });

  it('refuses an envelope without a readable code', () => {
    expect(readSubmitEnvelope({ description: 'ok', result: '1' })).toBeNull();
    expect(readSubmitEnvelope({ code: 'one' })).toBeNull();
    expect(readSubmitEnvelope([])).toBeNull();
  });
});
