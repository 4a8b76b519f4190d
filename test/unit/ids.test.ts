import { describe, expect, it } from 'vitest';
import { newTaskId, parseTaskId } from '../../shared/ids.js';
import { keyspace, tag } from '../../shared/keys.js';

describe('task ids', () => {
  it('carries its queue and shard so a fetch needs no lookup', () => {
    const id = newTaskId({ queue: 'mj', shard: 0 });
    expect(id).toMatch(/^mj_[0-9A-Za-z]{20}$/);
    expect(parseTaskId(id)).toEqual({ queue: 'mj', shard: 0 });
    const sharded = newTaskId({ queue: 'text', shard: 3 });
    expect(sharded).toMatch(/^text3_/);
    expect(parseTaskId(sharded)).toEqual({ queue: 'text', shard: 3 });
  });

  it('is URL-safe, 16 to 32 characters, never all digits and free of colons', () => {
    for (let i = 0; i < 200; i++) {
      const id = newTaskId({ queue: 'webhook', shard: 12 });
      expect(id.length).toBeGreaterThanOrEqual(16);
      expect(id.length).toBeLessThanOrEqual(32);
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(id).not.toMatch(/^\d+$/);
    }
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newTaskId({ queue: 'mj', shard: 0 })));
    expect(ids.size).toBe(10_000);
  });

  it('draws every character evenly (no bias from the byte pool or the alphabet size)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) for (const c of newTaskId({ queue: 'mj', shard: 0 }).slice(3)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (10_000 * 20) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.12);
  });

  it('refuses ids that are not ours', () => {
    for (const bad of ['', '1689231405853400', 'xx_AAAAAAAAAAAAAAAAAAAA', 'mj_short', 'mj0_AAAAAAAAAAAAAAAAAAAA', 'mj_AAAAAAAAAAAAAAAAAAA!', '../mj_AAAAAAAAAAAAAAAAAAAA'])
      expect(parseTaskId(bad)).toBeNull();
  });
});

describe('key layout', () => {
  it('puts every key of one queue and shard under one hash tag', () => {
    expect(tag({ queue: 'mj', shard: 0 })).toBe('{mj}');
    expect(tag({ queue: 'text', shard: 3 })).toBe('{text:3}');
    const ks = keyspace('relayq', { queue: 'text', shard: 3 });
    for (const key of [ks.bullPrefix, ks.task('x'), ks.blobs('x'), ks.tenantTasks('t'), ks.tenantActive('t'), ks.inflight, ks.upstreamCancels])
      expect(key).toMatch(/^relayq:\{text:3\}/);
  });
});
