import { describe, expect, it } from 'vitest';
import { readUpstreamVideo } from '../../shared/families/video/upstream.js';
import { toVideoObject } from '../../shared/families/video/view.js';
import { newVideoTask } from '../../shared/families/video/task.js';
import { changeFor } from '../../worker/families/video/adapter.js';
import { judgeVideo } from '../../worker/families/video/client.js';

const entry = { tenant: 'acme', channel: 'one', upstreamId: 'video_up', fingerprint: '', changedAt: 0, missingSince: null };

describe('upstream video objects, read leniently', () => {
  it('reads an OpenAI Video object as it is', () => {
    const v = readUpstreamVideo({ id: 'video_68e1', object: 'video', model: 'sora-2', status: 'in_progress', progress: 42, created_at: 1760000000, completed_at: null, expires_at: null, prompt: 'cat', seconds: '8', size: '1280x720', remixed_from_video_id: null, error: null });
    expect(v).toEqual({ id: 'video_68e1', status: 'in_progress', progress: 42, error: null, model: 'sora-2', seconds: '8', size: '1280x720', expires_at: null, video_url: null });
  });

  it('keeps every digit of a numeric id past 2^53', () => {
    expect(judgeVideo(Buffer.from('{"task_id": 12345678901234567890, "status": "pending", "progress": 0}'))).toMatchObject({ id: '12345678901234567890', status: 'queued', progress: 0 });
  });

  it('reads the first new-api answer, which named the task only as task_id', () => {
    expect(readUpstreamVideo({ task_id: 'task_3fQz9', status: 'pending' })).toMatchObject({ id: 'task_3fQz9', status: 'queued', progress: null });
  });

  it('unwraps {code, data} envelopes and reads relay spellings of status, progress, seconds and times', () => {
    const v = readUpstreamVideo({ code: 0, message: 'ok', data: { id: 'v1', status: 'Processing', progress: '45%', seconds: 8, expires_at: '2026-01-01T00:00:00Z', video_url: 'https://cdn.example/v1.mp4' } });
    expect(v).toMatchObject({ id: 'v1', status: 'in_progress', progress: 45, seconds: '8', expires_at: 1767225600, video_url: 'https://cdn.example/v1.mp4' });
    expect(readUpstreamVideo({ id: 'v2', status: 'succeeded', expires_at: 1767225600123 })).toMatchObject({ status: 'completed', expires_at: 1767225600 });
  });

  it('maps the status words of OpenAI, Azure and relays, and no other', () => {
    const status = (s: unknown) => readUpstreamVideo({ id: 'x', status: s })?.status;
    expect(['queued', 'pending', 'preprocessing', 'NOT_START'].map(status)).toEqual(['queued', 'queued', 'queued', 'queued']);
    expect(['in_progress', 'running', 'processing', 'in-progress'].map(status)).toEqual(['in_progress', 'in_progress', 'in_progress', 'in_progress']);
    expect(['completed', 'SUCCESS', 'succeeded'].map(status)).toEqual(['completed', 'completed', 'completed']);
    expect(['failed', 'cancelled', 'canceled', 'FAILURE'].map(status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(['unknown', 3, null, ''].map(status)).toEqual([null, null, null, null]);
  });

  it('reads errors as objects, texts, or fail_reason, and never drops a video over an odd field', () => {
    expect(readUpstreamVideo({ id: 'x', status: 'failed', error: { code: 'moderation_blocked', message: 'blocked' } })?.error).toEqual({ code: 'moderation_blocked', message: 'blocked' });
    expect(readUpstreamVideo({ id: 'x', status: 'failed', error: 'out of credits' })?.error).toEqual({ code: null, message: 'out of credits' });
    expect(readUpstreamVideo({ id: 'x', status: 'failed', fail_reason: 'timeout' })?.error).toEqual({ code: null, message: 'timeout' });
    expect(readUpstreamVideo({ id: 12345, status: 'queued', progress: { pct: 3 }, seconds: [4], size: 720, expires_at: 'soon' })).toMatchObject({ id: '12345', progress: null, seconds: null, size: '720', expires_at: null });
    expect(readUpstreamVideo({ error: { message: 'no' } })).toBeNull();
    expect(readUpstreamVideo('video')).toBeNull();
  });
});

describe('an upstream video as a task change and as the Video object', () => {
  it('keeps a running video below 100 % and completes it at 100 %', () => {
    expect(changeFor(readUpstreamVideo({ id: 'video_up', status: 'in_progress', progress: 100 })!, entry, 5)).toMatchObject({ status: 'running', patch: { progress: 99 } });
    expect(changeFor(readUpstreamVideo({ id: 'video_up', status: 'completed' })!, entry, 5)).toMatchObject({ status: 'succeeded', patch: { progress: 100, completed_at: 5 } });
    expect(changeFor(readUpstreamVideo({ id: 'video_up', status: 'whatever' })!, entry, 5)).toBeNull();
  });

  it('shows a queued upstream video as queued, and a canceled task as failed with code canceled', () => {
    const task = newVideoTask({ id: 'video_AAAAAAAAAAAAAAAAAAAA', kind: 'video.generation', tenant: 'acme', video: { model: null, prompt: 'p', seconds: null, size: null, remixed_from_video_id: null } }, 1760000000500);
    expect(toVideoObject(task)).toEqual({
      id: task.id,
      object: 'video',
      completed_at: null,
      created_at: 1760000000,
      error: null,
      expires_at: null,
      model: 'sora-2',
      progress: 0,
      prompt: 'p',
      remixed_from_video_id: null,
      seconds: '4',
      size: '720x1280',
      status: 'queued',
    });
    expect(toVideoObject({ ...task, status: 'running', upstream: { channel: 'one', id: 'u', status: 'queued' } }).status).toBe('queued');
    expect(toVideoObject({ ...task, status: 'running', upstream: { channel: 'one', id: 'u', status: 'in_progress' } }).status).toBe('in_progress');
    const canceled = toVideoObject({ ...task, status: 'canceled', completed_at: 1760000009000, error: { type: 'canceled', code: 'canceled', message: 'canceled by client' } });
    expect(canceled).toMatchObject({ status: 'failed', completed_at: 1760000009, error: { code: 'canceled', message: 'canceled by client' } });
  });
});
