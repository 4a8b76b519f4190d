import { describe, expect, it } from 'vitest';
import { mjFamily } from '../../shared/families/mj/family.js';
import { newMjRequest, newMjTask } from '../../shared/families/mj/task.js';
import { readUpstreamTask } from '../../shared/families/mj/upstream.js';
import { toMjTask } from '../../shared/families/mj/view.js';
import type { Inflight } from '../../shared/protocols/inflight.js';
import { changeFor } from '../../worker/families/mj/adapter.js';

const entry: Inflight = { tenant: 't', channel: 'c', upstreamId: '17', fingerprint: '', changedAt: 0, missingSince: null };

describe('MJ imageUrls (the grid as single images)', () => {
  it('reads imageUrls as objects, as plain URLs and as JSON text, leaving out items without a URL', () => {
    const odd: string[] = [];
    const u = readUpstreamTask({ id: '17', status: 'SUCCESS', imageUrls: [{ url: 'https://cdn/0.png', thumbnail: 'https://cdn/0_t.png' }, 'https://cdn/1.png', { thumbnail: 'x' }, 3] }, (f) => odd.push(f));
    expect(u?.imageUrls).toEqual([
      { url: 'https://cdn/0.png', thumbnail: 'https://cdn/0_t.png' },
      { url: 'https://cdn/1.png', thumbnail: null },
    ]);
    expect(odd).toEqual(['imageUrls', 'imageUrls']);
    expect(readUpstreamTask({ id: '17', imageUrls: '[{"url":"https://cdn/2.png"}]' })?.imageUrls).toEqual([{ url: 'https://cdn/2.png', thumbnail: null }]);
    expect(readUpstreamTask({ id: '17', imageUrls: [] })).not.toHaveProperty('imageUrls');
  });

  it('keeps them on the task and shows them as imageUrls only when the upstream gave them', () => {
    const u = readUpstreamTask({ id: '17', status: 'SUCCESS', imageUrl: 'https://cdn/grid.png', imageUrls: [{ url: 'https://cdn/0.png' }] })!;
    const change = changeFor(u, entry, 5)!;
    expect(change.patch).toMatchObject({ image_url: 'https://cdn/grid.png', image_urls: [{ url: 'https://cdn/0.png', thumbnail: null }] });
    expect(changeFor(readUpstreamTask({ id: '17', status: 'SUCCESS', imageUrl: 'https://cdn/grid.png' })!, entry, 5)!.patch).not.toHaveProperty('image_urls');
    const task = { ...newMjTask({ id: 'mj_AAAAAAAAAAAAAAAAAAAA', kind: 'mj.imagine', tenant: 't', mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '' }) }), ...change.patch, status: 'succeeded' as const };
    expect(toMjTask(task).imageUrls).toEqual([{ url: 'https://cdn/0.png', thumbnail: null }]);
    expect(toMjTask({ ...task, image_urls: [] })).not.toHaveProperty('imageUrls');
  });

  it('archives the grid, each image and its thumbnail, and puts relayq URLs in their place', () => {
    const task = {
      ...newMjTask({ id: 'mj_AAAAAAAAAAAAAAAAAAAA', kind: 'mj.imagine', tenant: 't', mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '' }) }),
      status: 'succeeded' as const,
      image_url: 'https://cdn/grid.png',
      image_urls: [{ url: 'https://cdn/0.png', thumbnail: 'https://cdn/0_t.png' }, { url: 'https://cdn/1.png', thumbnail: null }],
    };
    expect(mjFamily.archive!.urls(task)).toEqual(['https://cdn/grid.png', 'https://cdn/0.png', 'https://cdn/0_t.png', 'https://cdn/1.png']);
    const local = (u: string) => (u === 'https://cdn/1.png' ? null : u.replace('https://cdn/', 'https://relay/v1/files/x/'));
    expect(mjFamily.archive!.replace(task, local)).toEqual({
      image_url: 'https://relay/v1/files/x/grid.png',
      image_urls: [{ url: 'https://relay/v1/files/x/0.png', thumbnail: 'https://relay/v1/files/x/0_t.png' }, { url: 'https://cdn/1.png', thumbnail: null }],
    });
  });
});
