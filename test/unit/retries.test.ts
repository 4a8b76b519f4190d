import { describe, expect, it } from 'vitest';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { backoffDelay } from '../../worker/dispatch.js';
import { isQuotaExhausted, isRetryableStatus, parseRetryAfter, retryAfterOf } from '../../worker/upstream/http.js';

describe('retry classification', () => {
  const all = Array.from({ length: 300 }, (_, i) => 300 + i);

  it('retries 408, 409, 425, 429 and every 5xx but those that say the request can never work there', () => {
    expect(all.filter(isRetryableStatus).filter((s) => s < 500)).toEqual([408, 409, 425, 429]);
    expect(Array.from({ length: 100 }, (_, i) => 500 + i).filter((s) => !isRetryableStatus(s))).toEqual([501, 505, 510, 511]);
  });

  it("retries Cloudflare's 520-527 and 530 pages and Anthropic's 529 overloaded", () => {
    for (const s of [520, 521, 522, 523, 524, 525, 526, 527, 529, 530, 598, 599]) expect(isRetryableStatus(s), String(s)).toBe(true);
    expect(isRetryableStatus(600)).toBe(false);
  });

  it('knows a spent quota by its code or type, however it is spelled', () => {
    expect(isQuotaExhausted({ type: 'insufficient_quota', code: null, param: null })).toBe(true);
    expect(isQuotaExhausted({ type: 'requests', code: 'billing_hard_limit_reached', param: null })).toBe(true);
    expect(isQuotaExhausted({ type: 'tokens', code: 'rate_limit_exceeded', param: null })).toBe(false);
    expect(isQuotaExhausted(undefined)).toBe(false);
  });

  it('reads the wait a refusal asks for: retry-after-ms first, then Retry-After, then Gemini RetryInfo in the body', () => {
    const gemini = (retryDelay: string) => ({
      error: {
        code: 429,
        message: 'You exceeded your current quota. Please retry in 38.601658672s.',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay }],
      },
    });
    expect(retryAfterOf(new Headers({ 'retry-after-ms': '1500', 'retry-after': '2' }), null)).toBe(1500);
    expect(retryAfterOf(new Headers({ 'retry-after': '2' }), gemini('38s'))).toBe(2000);
    expect(retryAfterOf(new Headers(), gemini('38.601s'))).toBe(38_601);
    expect(retryAfterOf(new Headers(), [gemini('86400s')])).toBe(86_400_000);
    expect(retryAfterOf(new Headers(), { error: { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: 'soon' }] } })).toBeUndefined();
    expect(retryAfterOf(new Headers(), undefined)).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('later')).toBeUndefined();
  });
});

describe('backoff', () => {
  const mid = () => 0.5;
  it('grows exponentially from the base delay, with jitter in the upper half', () => {
    const err = new RetryableUpstreamError('503', 503);
    expect(backoffDelay(1, 1000, err, () => 0)).toBe(500);
    expect(backoffDelay(1, 1000, err, () => 0.999)).toBeLessThan(1000);
    expect(backoffDelay(2, 1000, err, mid)).toBe(1500);
    expect(backoffDelay(3, 1000, err, mid)).toBe(3000);
  });

  it('honours Retry-After over the schedule', () => {
    expect(backoffDelay(1, 1000, new RetryableUpstreamError('429', 429, 7000), () => 0)).toBe(7000);
  });

  it('is capped at ten minutes', () => {
    expect(backoffDelay(30, 1000, new Error('x'), () => 0.999)).toBeLessThanOrEqual(600_000);
  });

  it('treats a permanent error like any other for delay (it is never retried anyway)', () => {
    expect(backoffDelay(1, 10, new PermanentUpstreamError('400'), mid)).toBe(7);
  });
});
