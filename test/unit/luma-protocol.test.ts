import { describe, expect, it } from 'vitest';
import { effectiveState, readGeneration, videoUrlOf } from '../../shared/families/luma/protocol.js';
import { newLumaTask, type LumaTask } from '../../shared/families/luma/task.js';
import { lumaContentUrl, lumaOutput, toLumaGeneration } from '../../shared/families/luma/view.js';
import type { Inflight } from '../../shared/protocols/inflight.js';
import { changeFor } from '../../worker/families/luma/adapter.js';

const ID = 'a4a8f1ff-e59b-4969-abcb-98b3e16f003e';
const MP4 = 'https://storage.cdn-luma.com/dream-machine/x/video.mp4';

describe('reading Luma generations', () => {
  it('reads Luma-API’s own submit answer (LumaAI-API/Luma-API README)', () => {
    const g = readGeneration({ id: ID, prompt: 'a red car', state: 'pending', created_at: '2024-06-18T14:47:43.318498Z', video: null, liked: null, estimate_wait_seconds: null });
    expect(g).toMatchObject({ id: ID, state: 'pending', rawState: 'pending', video: null, thumbnail: null, failure_reason: null, progress: null });
  });

  it('reads a vendor’s completed generation with video, download_url, thumbnail, last_frame and video_raw', () => {
    const g = readGeneration({
      id: ID,
      state: 'completed',
      video: { url: MP4, width: 1360, height: 752, download_url: MP4 },
      thumbnail: { url: 'https://imagedelivery.net/t/public', width: 1360, height: 752, palette: { grid: 'xx' }, media_type: 'image' },
      video_raw: { url: 'https://cdn/raw.mp4', width: 1360, height: 752 },
      last_frame: { url: 'https://cdn/last.jpg', width: 1360, height: 752 },
      queue_state: null,
      failure_reason: null,
    })!;
    expect(g.video).toEqual({ url: MP4, download_url: MP4, width: 1360, height: 752 });
    expect(g.thumbnail).toEqual({ url: 'https://imagedelivery.net/t/public', width: 1360, height: 752 });
    expect(effectiveState(g)).toBe('completed');
  });

  it.each([
    ['an upstream array', [{ id: ID, state: 'processing' }]],
    ['a data wrapper holding an array (openai-hk)', { data: [{ id: ID, state: 'processing' }] }],
    ['an envelope with code and message', { code: 'success', message: '', data: { id: ID, state: 'processing' } }],
    ['`status` in place of `state`, upper case', { id: ID, status: 'PROCESSING' }],
    ['the official Dream Machine word', { id: ID, state: 'dreaming' }],
    ['a numeric id', { id: 12345, state: 'in_progress' }],
  ])('reads %s', (_what, raw) => {
    expect(readGeneration(raw)).toMatchObject({ state: 'processing' });
  });

  it('reads a submit answered with only a task_id (openai-hk v2) as a generation of unknown state', () => {
    expect(readGeneration({ task_id: ID })).toMatchObject({ id: ID, state: null, video: null });
  });

  it('finds the video under artifact or in the official assets, with sizes given as strings', () => {
    expect(readGeneration({ id: ID, state: 'completed', video: { url: null, width: null }, artifact: { video: { url: MP4, width: '1360', height: '752' } } })!.video).toEqual({ url: MP4, width: 1360, height: 752 });
    expect(readGeneration({ id: ID, state: 'completed', assets: { video: MP4 } })!.video).toEqual({ url: MP4 });
    expect(videoUrlOf(readGeneration({ id: ID, state: 'completed', video: { url: '', download_url: MP4 } })!)).toBe(MP4);
  });

  it('counts completed without a video URL as still processing', () => {
    for (const video of [null, undefined, {}, { url: null }, { url: '' }, { url: '   ', thumbnail: null }]) {
      expect(effectiveState(readGeneration({ id: ID, state: 'completed', video })!)).toBe('processing');
    }
  });

  it('reads the failure reason from the fields vendors use, and knows no state it was not told', () => {
    expect(readGeneration({ id: ID, state: 'failed', failure_reason: 'moderated' })!.failure_reason).toBe('moderated');
    expect(readGeneration({ id: ID, state: 'FAILED', error: { message: 'no credits' } })!.failure_reason).toBe('no credits');
    expect(readGeneration({ id: ID, state: 'failed', fail_reason: 'x' })!.failure_reason).toBe('x');
    expect(readGeneration({ id: ID, state: 'something-new' })!.state).toBeNull();
    expect(readGeneration({ id: ID, progress: '42%' })!.progress).toBe(42);
  });

  it.each([
    ['Luma-API’s own error', { detail: { reason: 'unauthorized secret token', code: 1 } }],
    ['FastAPI’s error', { detail: 'Not found' }],
    ['an OpenAI envelope', { error: { message: 'quota', type: 'insufficient_quota' } }],
    ['an empty array', []],
    ['a string', 'ok'],
    ['null', null],
  ])('finds no generation in %s', (_what, raw) => {
    expect(readGeneration(raw)).toBeNull();
  });
});

describe('what an upstream generation means for the task', () => {
  const entry: Inflight = { tenant: 'acme', channel: 'luma-a', upstreamId: ID, fingerprint: '', changedAt: 0, missingSince: null };
  const change = (raw: unknown) => changeFor(readGeneration(raw)!, entry, 1000);

  it('succeeds only with a video URL', () => {
    expect(change({ id: ID, state: 'completed', video: { url: MP4 } })).toMatchObject({ status: 'succeeded', patch: { progress: 100, completed_at: 1000, generation: { state: 'completed', video: { url: MP4 } } } });
    expect(change({ id: ID, state: 'completed', video: null })).toMatchObject({ status: 'running', patch: { generation: { state: 'processing' } } });
  });

  it('fails with the upstream’s reason, or says which state it ended in', () => {
    expect(change({ id: ID, state: 'failed', failure_reason: 'moderated' })).toMatchObject({ status: 'failed', patch: { error: { type: 'upstream_error', code: 'upstream_failed', message: 'moderated' } } });
    expect(change({ id: ID, status: 'cancelled' })).toMatchObject({ status: 'failed', patch: { error: { message: 'upstream generation ended cancelled' } } });
  });

  it('writes nothing for a state nobody knows, and never 100 % before the end', () => {
    expect(change({ id: ID, state: 'thinking' })).toBeNull();
    expect(change({ id: ID, state: 'processing', progress: 100 })).toMatchObject({ status: 'running', patch: { progress: 99 } });
  });
});

describe('the generation object clients see', () => {
  const task = (over: Partial<LumaTask>): LumaTask => ({ ...newLumaTask({ id: 'luma_abc', kind: 'luma.generation', tenant: 'acme', luma: { prompt: 'p', aspect_ratio: null, model: null, parentId: null } }, 0), ...over });

  it('is pending while queued, the upstream’s state while running, completed only when the task succeeded', () => {
    expect(toLumaGeneration(task({}))).toMatchObject({ id: 'luma_abc', state: 'pending', created_at: '1970-01-01T00:00:00.000Z', video: null, assets: null });
    const running = task({ status: 'running', generation: { ...task({}).generation, state: 'processing', video: { url: MP4 } } });
    expect(toLumaGeneration(running)).toMatchObject({ state: 'processing', video: null });
    const done = task({ status: 'succeeded', generation: { ...running.generation, state: 'completed' } });
    expect(toLumaGeneration(done)).toMatchObject({ state: 'completed', video: { url: MP4, download_url: MP4 }, assets: { video: MP4 } });
    expect(lumaOutput(done)).toMatchObject({ video_url: MP4, download_url: MP4 });
    expect(lumaContentUrl(done)).toBe(MP4);
  });

  it('is failed with a reason when the task failed or was canceled', () => {
    const canceled = task({ status: 'canceled', error: { type: 'canceled', code: 'canceled', message: 'canceled by client' } });
    expect(toLumaGeneration(canceled)).toMatchObject({ state: 'failed', failure_reason: 'canceled by client', video: null });
    expect(lumaOutput(canceled)).toBeNull();
  });
});
