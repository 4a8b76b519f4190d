/**
 * What counts as progress of an upstream task, for the trackers' no-progress clock: what a task
 * shows, never what changes on every read. Upstreams that hand out signed CDN links (S3, R2, OSS
 * presigned URLs) re-sign them on each read, so a link is compared by what it names.
 */

/** An http(s) URL without its query string and fragment; anything else as it is (null and '' as ''). */
export function urlIdentity(v: unknown): string {
  if (typeof v !== 'string') return v === null || v === undefined ? '' : String(v);
  return /^https?:\/\//i.test(v) ? v.replace(/[?#].*$/s, '') : v;
}

/** A JSON text of `v` with every http(s) URL string reduced to urlIdentity (object keys in order). */
export function stableJson(v: unknown): string {
  return JSON.stringify(v ?? null, (_key, value: unknown) => {
    if (typeof value === 'string') return urlIdentity(value);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
}
