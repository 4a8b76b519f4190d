import { describe, expect, it } from 'vitest';
import { newSunoTask } from '../../shared/families/suno/task.js';
import { readEnvelope, readFetchList, readStatus, readUpstreamTask, submittedId } from '../../shared/families/suno/upstream.js';
import { sunoOutput, sunoStatusOf, toSunoTask } from '../../shared/families/suno/view.js';
import { changeFor } from '../../worker/families/suno/adapter.js';

const entry = { tenant: 't', channel: 'suno-a', upstreamId: 'up-1', fingerprint: '', changedAt: 0, missingSince: null };
const clip = (status: string, extra: Record<string, unknown> = {}) => ({ id: `clip-${status}`, status, audio_url: 'https://cdn1.suno.ai/x.mp3', metadata: { error_message: null }, ...extra });

describe('reading suno-api answers', () => {
  it('reads new-api’s task DTO', () => {
    const odd: string[] = [];
    const t = readUpstreamTask(
      { id: 7, task_id: 'task_abc', platform: 'suno', action: 'MUSIC', status: 'IN_PROGRESS', fail_reason: '', submit_time: 1760000000, progress: '0%', data: [clip('streaming')] },
      (f) => odd.push(f),
    );
    expect(t).toEqual({ id: 'task_abc', status: 'IN_PROGRESS', progress: 0, failReason: null, data: [clip('streaming')] });
    expect(odd).toEqual([]);
  });

  it('keys an item by task_id, never by suno-api’s integer row id', () => {
    expect(readUpstreamTask({ id: 12, status: 'SUCCESS', data: [] })).toBeNull();
    expect(readUpstreamTask({ id: 12, task_id: 4711, status: 'SUCCESS' })?.id).toBe('4711');
  });

  it.each([
    ['SUBMITTED', 'SUBMITTED'],
    ['queued', 'QUEUED'],
    ['streaming', 'IN_PROGRESS'],
    ['in-progress', 'IN_PROGRESS'],
    ['complete', 'SUCCESS'],
    ['error', 'FAILURE'],
    ['FAILED', 'FAILURE'],
    ['NOT_START', 'NOT_START'],
    ['UNKNOWN', null],
    ['dreaming', null],
    [3, null],
  ] as const)('reads status %j as %s', (raw, want) => {
    expect(readStatus(raw)).toBe(want);
  });

  it('reads data sent as JSON text, drops clips that are not objects, and reports odd fields', () => {
    const odd: string[] = [];
    const t = readUpstreamTask({ task_id: 'a', status: 42, progress: 'lots', fail_reason: { x: 1 }, data: JSON.stringify([clip('complete'), 'junk']) }, (f) => odd.push(f));
    expect(t).toEqual({ id: 'a', status: null, progress: null, failReason: null, data: [clip('complete')] });
    expect(odd.sort()).toEqual(['data[]', 'fail_reason', 'progress', 'status']);
    expect(readUpstreamTask({ task_id: 'a', data: '{not json' })?.data).toBeNull();
  });

  it('derives a missing status from the clips, as suno-api does', () => {
    expect(readUpstreamTask({ task_id: 'a', data: [clip('complete'), clip('streaming')] })?.status).toBe('IN_PROGRESS');
    expect(readUpstreamTask({ task_id: 'a', data: [clip('complete'), clip('complete')] })?.status).toBe('SUCCESS');
    expect(readUpstreamTask({ task_id: 'a', status: '', data: [clip('error'), clip('complete')] })?.status).toBe('FAILURE');
    expect(readUpstreamTask({ task_id: 'a' })?.status).toBeNull();
  });

  it('reads envelopes: "success" in any case, resellers’ 200, and refusals with their message', () => {
    expect(readEnvelope({ code: 'success', message: '', data: 'x' })).toMatchObject({ ok: true, data: 'x' });
    expect(readEnvelope({ code: 'SUCCESS', data: 'x' })?.ok).toBe(true);
    expect(readEnvelope({ code: 200, msg: 'ok', data: 'x' })).toMatchObject({ ok: true, message: 'ok' });
    expect(readEnvelope({ code: 'task_not_exist', message: 'task_not_exist', data: null })).toMatchObject({ ok: false, code: 'task_not_exist' });
    expect(readEnvelope({ error: { message: 'nope' } })).toBeNull();
    expect(submittedId('0b7c1f')).toBe('0b7c1f');
    expect(submittedId({ task_id: 'abc' })).toBe('abc');
    expect(submittedId(12345)).toBe('12345');
    expect(submittedId('')).toBeNull();
  });

  it('reads a batch from the envelope, a bare array, null data or one object; counts items without task_id', () => {
    expect(readFetchList({ code: 'success', data: [{ task_id: 'a' }, { id: 3 }] })).toMatchObject({ tasks: [{ id: 'a' }], unusable: 1 });
    expect(readFetchList([{ task_id: 'a' }])?.tasks).toHaveLength(1);
    expect(readFetchList({ code: 'success', data: null })).toEqual({ tasks: [], unusable: 0 });
    expect(readFetchList({ code: 'success', data: { task_id: 'a' } })?.tasks).toHaveLength(1);
    expect(readFetchList({ code: 'success', data: 'nope' })).toBeNull();
    expect(readFetchList({ code: 'fail_to_fetch_task', message: 'x' })).toBeNull();
  });
});

describe('what an upstream Suno task means for relayq’s task', () => {
  const u = (fields: Record<string, unknown>) => ({ id: 'up-1', status: null, progress: null, failReason: null, data: undefined, ...fields }) as never;

  it('moves progress by phase when the upstream gives none, and never past 99 before SUCCESS', () => {
    expect(changeFor(u({ status: 'SUBMITTED' }), entry, 1)).toMatchObject({ status: 'running', patch: { progress: 10, upstream: { channel: 'suno-a', id: 'up-1', status: 'SUBMITTED' } } });
    expect(changeFor(u({ status: 'QUEUED', progress: 0 }), entry, 1)?.patch).toMatchObject({ progress: 20 });
    expect(changeFor(u({ status: 'IN_PROGRESS', progress: 64 }), entry, 1)?.patch).toMatchObject({ progress: 64 });
    expect(changeFor(u({ status: 'IN_PROGRESS', progress: 100 }), entry, 1)?.patch).toMatchObject({ progress: 99 });
  });

  it('succeeds with the clips, fails a SUCCESS without any, and takes a failure’s reason from the clip', () => {
    expect(changeFor(u({ status: 'SUCCESS', data: [clip('complete')] }), entry, 5)).toMatchObject({ status: 'succeeded', patch: { progress: 100, completed_at: 5, data: [clip('complete')] } });
    expect(changeFor(u({ status: 'SUCCESS', data: [], failReason: 'no credits' }), entry, 5)).toMatchObject({ status: 'failed', patch: { error: { message: 'no credits' } } });
    const failed = changeFor(u({ status: 'FAILURE', data: [clip('error', { metadata: { error_message: 'moderated' } })] }), entry, 5);
    expect(failed).toMatchObject({ status: 'failed', patch: { error: { type: 'upstream_error', message: 'moderated' } } });
    expect(changeFor(u({ status: 'FAILURE', failReason: 'time out' }), entry, 5)?.patch).toMatchObject({ error: { message: 'time out' } });
    const typed = changeFor(u({ status: 'FAILURE', data: [clip('error', { metadata: { error_type: 'moderation', error_message: null } })] }), entry, 5);
    expect(typed?.patch).toMatchObject({ error: { message: 'upstream clip failed (moderation)' } });
  });

  it('keeps following a SUCCESS until every clip is complete with audio; fails lyrics without text and a SUCCESS with a fail_reason', () => {
    const streaming = changeFor(u({ status: 'SUCCESS', data: [clip('complete'), clip('streaming')] }), entry, 5);
    expect(streaming).toMatchObject({ status: 'running', patch: { progress: 99, upstream: { status: 'SUCCESS' } } });
    expect(sunoStatusOf({ status: 'running', upstream: { channel: 'c', id: 'u', status: 'SUCCESS' } })).toBe('IN_PROGRESS');
    expect(changeFor(u({ status: 'SUCCESS', data: [clip('complete', { audio_url: '' })] }), entry, 5)?.status).toBe('running');
    expect(changeFor(u({ status: 'SUCCESS', data: { id: 'l', status: 'complete', text: '' } }), entry, 5)?.status).toBe('failed');
    expect(changeFor(u({ status: 'SUCCESS', data: [clip('complete')], failReason: 'refunded' }), entry, 5)).toMatchObject({ status: 'failed', patch: { error: { message: 'refunded' } } });
  });

  it('writes nothing for a status it does not know', () => {
    expect(changeFor(u({ status: null, data: [clip('complete')] }), entry, 1)).toBeNull();
  });
});

describe('the Suno task object', () => {
  const task = (fields: Record<string, unknown>) => newSunoTask({ id: 'suno_AAAAAAAAAAAAAAAAAAAA', kind: 'suno.music', tenant: 't', suno: { body: {}, parentId: null, mv: null }, ...fields }, 1_760_000_000_123);

  it('is new-api’s task DTO: Unix seconds, 0 for times not reached, "NN%" progress', () => {
    expect(toSunoTask(task({}))).toEqual({
      task_id: 'suno_AAAAAAAAAAAAAAAAAAAA', action: 'MUSIC', status: 'NOT_START', fail_reason: '', submit_time: 1_760_000_000, start_time: 0, finish_time: 0, progress: '0%', platform: 'suno', data: [],
    });
    const running = task({ status: 'running', progress: 30, started_at: 1_760_000_005_900, upstream: { channel: 'c', id: 'u', status: 'IN_PROGRESS' } });
    expect(toSunoTask(running)).toMatchObject({ status: 'IN_PROGRESS', progress: '30%', start_time: 1_760_000_005 });
  });

  it('shows a canceled task as FAILURE, the only end a Suno client knows besides SUCCESS', () => {
    const canceled = task({ status: 'canceled', completed_at: 1_760_000_009_000, error: { type: 'canceled', code: 'canceled', message: 'canceled by client' } });
    expect(toSunoTask(canceled)).toMatchObject({ status: 'FAILURE', fail_reason: 'canceled by client', progress: '100%', finish_time: 1_760_000_009 });
  });

  it('gives lyrics as an object (null before any) and the generic output as clips or lyrics', () => {
    expect(toSunoTask(task({ kind: 'suno.lyrics' }))).toMatchObject({ action: 'LYRICS', data: null });
    expect(sunoOutput(task({ kind: 'suno.lyrics', data: { id: 'l', status: 'complete', title: 'T', text: 'la' } }))).toEqual({ lyrics: { id: 'l', status: 'complete', title: 'T', text: 'la' } });
    expect(sunoOutput(task({ data: [clip('complete', { metadata: { duration: 12.5, tags: 'pop' } })] }))).toEqual({ clips: [{ id: 'clip-complete', status: 'complete', audio_url: 'https://cdn1.suno.ai/x.mp3', duration: 12.5, tags: 'pop' }] });
    expect(sunoOutput(task({}))).toBeNull();
  });
});
