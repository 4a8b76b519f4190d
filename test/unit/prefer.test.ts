import { describe, expect, it } from 'vitest';
import { parsePrefer } from '../../api/routes/openai.js';

describe('Prefer header', () => {
  it.each([
    [undefined, 60_000],
    ['respond-async', 0],
    ['wait=5', 5_000],
    ['respond-async, wait=10', 10_000],
    ['Wait = 7', 7_000],
    ['wait=99999', 3_600_000],
    ['handling=lenient', 60_000],
  ])('%s waits %i ms', (header, ms) => {
    expect(parsePrefer(header, 60)).toBe(ms);
  });
});
