import type { Blob } from './tasks/store.js';

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/]+={0,2})$/i;

/** Decodes `data:<type>;base64,<data>`; null when it is not a well-formed base64 data URL. */
export function parseDataUrl(s: string): Blob | null {
  const m = DATA_URL.exec(s.trim());
  if (!m?.[1] || !m[2] || m[2].length % 4 !== 0) return null;
  const data = Buffer.from(m[2], 'base64');
  return data.length > 0 ? { type: m[1].toLowerCase(), data } : null;
}

export function toDataUrl(blob: Blob): string {
  return `data:${blob.type};base64,${blob.data.toString('base64')}`;
}
