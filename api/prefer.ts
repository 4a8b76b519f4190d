/**
 * How an OpenAI-style call wants its answer, from its `Prefer` header (RFC 7240):
 *
 * - `sync` (no preference): the caller is a plain OpenAI client. It gets exactly what the
 *   upstream answers, however long that takes (up to SYNC_WAIT_SECONDS), and never a task
 *   object in place of an answer.
 * - `wait` (`Prefer: wait=N`, with or without `respond-async`): wait up to N seconds, then
 *   answer 202 with the task.
 * - `async` (`Prefer: respond-async`): answer 202 with the task at once.
 *
 * `waitMs` is how long to wait for the answer, in milliseconds (N is capped at one hour).
 */
export type Preference = { mode: 'sync'; waitMs: number } | { mode: 'wait'; waitMs: number } | { mode: 'async'; waitMs: 0 };

const MAX_WAIT_SECONDS = 3600;

/** Reads `Prefer`; `syncWaitSeconds` is SYNC_WAIT_SECONDS (seconds). Unknown preferences are ignored. */
export function parsePrefer(header: string | string[] | undefined, syncWaitSeconds: number): Preference {
  const tokens = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(/[,;]/).map((t) => t.trim().toLowerCase());
  const wait = tokens.map((t) => /^wait\s*=\s*(\d+)$/.exec(t)?.[1]).find((v) => v !== undefined);
  if (wait !== undefined) return { mode: 'wait', waitMs: Math.min(Number(wait), MAX_WAIT_SECONDS) * 1000 };
  if (tokens.includes('respond-async')) return { mode: 'async', waitMs: 0 };
  return { mode: 'sync', waitMs: syncWaitSeconds * 1000 };
}

/**
 * The retry number the official OpenAI SDKs send with every request (`x-stainless-retry-count`:
 * 0 for the first try, 1+ for their own retries); 0 when absent or unreadable.
 */
export function sdkRetryCount(headers: Record<string, string | string[] | undefined>): number {
  const v = headers['x-stainless-retry-count'];
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) && n > 0 ? n : 0;
}
