import { describe, expect, it } from 'vitest';
import { parsePrefer, sdkRetryCount } from '../../api/prefer.js';

describe('Prefer header', () => {
  it.each([
    [undefined, { mode: 'sync', waitMs: 600_000 }],
    ['respond-async', { mode: 'async', waitMs: 0 }],
    ['wait=5', { mode: 'wait', waitMs: 5_000 }],
    ['respond-async, wait=10', { mode: 'wait', waitMs: 10_000 }],
    ['Wait = 7', { mode: 'wait', waitMs: 7_000 }],
    ['wait=99999', { mode: 'wait', waitMs: 3_600_000 }],
    ['handling=lenient', { mode: 'sync', waitMs: 600_000 }],
    [['handling=strict', 'respond-async'], { mode: 'async', waitMs: 0 }],
  ])('%s → %o', (header, expected) => {
    expect(parsePrefer(header, 600)).toEqual(expected);
  });
});

describe('x-stainless-retry-count', () => {
  it.each([
    [{}, 0],
    [{ 'x-stainless-retry-count': '0' }, 0],
    [{ 'x-stainless-retry-count': '2' }, 2],
    [{ 'x-stainless-retry-count': 'two' }, 0],
    [{ 'x-stainless-retry-count': ['1', '3'] }, 1],
  ])('%o is retry %i', (headers, n) => {
    expect(sdkRetryCount(headers)).toBe(n);
  });
});
