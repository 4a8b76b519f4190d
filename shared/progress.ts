/** Told about a field an upstream sent in a form relayq could not read (for a debug log). */
export type Odd = (field: string, value: unknown) => void;

const blank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/**
 * Progress as a number 0–100, floored and clamped, from the forms upstreams send: `"45%"`
 * (midjourney-proxy, suno-api), `45`, `45.5`, `"45"`, `"45.5%"`, `" 45 %"`. Values are percentages
 * (`0.45` is 0 %, not 45 %): a fraction misread as a percentage would jump ahead. Blank, null and
 * unreadable give null; unreadable and out-of-range values are told to `odd`.
 */
export function parseProgress(p: unknown, odd?: Odd): number | null {
  if (blank(p)) return null;
  let n = NaN;
  if (typeof p === 'number') n = p;
  else if (typeof p === 'string') {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*%?\s*$/.exec(p);
    if (m) n = Number(m[1]);
  }
  if (!Number.isFinite(n)) {
    odd?.('progress', p);
    return null;
  }
  if (n < 0 || n > 100) odd?.('progress', p);
  return Math.floor(Math.min(100, Math.max(0, n)));
}
