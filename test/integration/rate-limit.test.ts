import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { createRateLimiter, MAX_CLAIM } from '../../api/rate-limit.js';
import { RateLimitedError } from '../../shared/errors.js';

/** Takes `n` submissions one after the other; how many were granted. */
async function takeMany(take: () => Promise<void>, n: number): Promise<number> {
  let granted = 0;
  for (let i = 0; i < n; i++) {
    try {
      await take();
      granted++;
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
    }
  }
  return granted;
}

describe('per-tenant rate limit (RATE_LIMIT_PER_MINUTE) across API processes', () => {
  let redis: Redis;
  let other: Redis;
  const prefix = `t${randomBytes(5).toString('hex')}`;

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    other = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    other.disconnect();
  });

  // Fixed windows on the epoch minute: a test that would cross one waits for the next.
  async function sameMinute() {
    const into = Date.now() % 60000;
    if (into > 50000) await new Promise((r) => setTimeout(r, 60000 - into + 50));
  }

  it('stays exact for small limits: one token per claim, the next submission refused with the seconds left', async () => {
    await sameMinute();
    const limiter = createRateLimiter({ redis, prefix, perMinute: 3 });
    const claims = vi.spyOn(redis, 'relayqRateClaim');
    await expect(takeMany(() => limiter.take('small'), 3)).resolves.toBe(3);
    const err = await limiter.take('small').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((err as RateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(claims.mock.calls.map((c) => c[2])).toEqual([1, 1, 1, 1]);
    claims.mockRestore();
    // Another tenant is not affected.
    await expect(limiter.take('small-other')).resolves.toBeUndefined();
  });

  it('claims tokens in growing batches for a fast tenant: a Redis call every few dozen submissions', async () => {
    await sameMinute();
    const limiter = createRateLimiter({ redis, prefix, perMinute: 1_000_000 });
    const claims = vi.spyOn(redis, 'relayqRateClaim');
    await expect(takeMany(() => limiter.take('fast'), 2000)).resolves.toBe(2000);
    expect(claims.mock.calls.length).toBeLessThan(2000 / MAX_CLAIM + 10);
    expect(Math.max(...claims.mock.calls.map((c) => c[2]))).toBe(MAX_CLAIM);
    claims.mockRestore();
    const window = Math.floor(Date.now() / 60000);
    const counted = Number(await redis.get(`${prefix}:rate:fast:${window}`));
    expect(counted).toBeGreaterThanOrEqual(2000);
    expect(counted).toBeLessThan(2000 + MAX_CLAIM);
  });

  it('never accepts more than the limit over several processes, and refuses early by no more than their unused claims', async () => {
    await sameMinute();
    const perMinute = 500; // claims of up to 10 tokens (2 %)
    const a = createRateLimiter({ redis, prefix, perMinute });
    const b = createRateLimiter({ redis: other, prefix, perMinute });
    let granted = 0;
    // Interleaved, as two API processes behind a load balancer.
    for (let i = 0; i < 400; i++) granted += await takeMany(() => (i % 2 ? a : b).take('shared'), 2);
    expect(granted).toBeLessThanOrEqual(perMinute);
    expect(granted).toBeGreaterThanOrEqual(perMinute - 2 * (perMinute / 50 - 1));
  });

  it('lets exactly the limit through when many submissions wait on one claim at once', async () => {
    await sameMinute();
    const limiter = createRateLimiter({ redis, prefix, perMinute: 10 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => limiter.take('burst')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RateLimitedError);
  });
});
