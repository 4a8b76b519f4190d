import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { stableJson, urlIdentity } from '../../shared/fingerprint.js';
import { readGeneration } from '../../shared/families/luma/protocol.js';
import { readUpstreamVideo } from '../../shared/families/video/upstream.js';
import { lumaTrackerAdapter } from '../../worker/families/luma/adapter.js';
import { videoTrackerAdapter } from '../../worker/families/video/adapter.js';

const config = loadConfig({});
const signed = (path: string, n: number) => `https://cdn.example.com/${path}?X-Amz-Signature=${n}&X-Amz-Expires=${n}`;

/** Progress is what a task shows: a link re-signed on every read, or a new expiry, is none. */
describe('what counts as upstream progress', () => {
  it('compares links by what they name', () => {
    expect(urlIdentity(signed('a.mp3', 1))).toBe('https://cdn.example.com/a.mp3');
    expect(urlIdentity('not a url?x=1')).toBe('not a url?x=1');
    expect(stableJson({ b: [signed('x.jpg', 1)], a: 1 })).toBe(stableJson({ a: 1, b: [signed('x.jpg', 2)] }));
    expect(stableJson({ a: signed('x.jpg', 1) })).not.toBe(stableJson({ a: signed('y.jpg', 1) }));
  });

  it('takes a video re-read with a new signature and expiry for no progress, and a new status or progress for progress', () => {
    const fp = videoTrackerAdapter(config, () => ({}) as never).fingerprint;
    const v = (n: number, extra: object = {}) => readUpstreamVideo({ id: 'v1', status: 'completed', progress: 100, video_url: signed('v.mp4', n), expires_at: 1760000000 + n, ...extra })!;
    expect(fp(v(1))).toBe(fp(v(2)));
    expect(fp(v(1, { status: 'in_progress', progress: 40 }))).not.toBe(fp(v(1, { status: 'in_progress', progress: 41 })));
  });

  it('takes a generation re-read with re-signed thumbnail and video links for no progress', () => {
    const fp = lumaTrackerAdapter(config, () => ({}) as never).fingerprint;
    const g = (n: number, state = 'processing') => readGeneration({ id: 'g1', state, thumbnail: { url: signed('t.jpg', n) }, video: state === 'completed' ? { url: signed('g.mp4', n) } : null })!;
    expect(fp(g(1))).toBe(fp(g(2)));
    expect(fp(g(1, 'completed'))).toBe(fp(g(2, 'completed')));
    expect(fp(g(1))).not.toBe(fp(g(1, 'completed')));
  });
});
