import autocannon from 'autocannon';
import { Pool } from 'undici';

/** One HTTP load run's outcome. Rates are requests per second, latencies ms. */
export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 2xx, plus connection errors and timeouts. */
  failures: number;
  total: number;
}

/** What to send: method, URL, headers and an optional JSON body. */
export interface Target {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * Closed-loop load with autocannon: `connections` keep one request each in flight for
 * `seconds`, after a warm-up of `warmupSeconds` that is not counted (JIT, connection pools).
 */
export async function hammer(t: Target, opts: { connections: number; seconds: number; warmupSeconds?: number }): Promise<LoadResult> {
  const base = {
    url: t.url,
    method: t.method,
    headers: t.body === undefined ? t.headers : { 'content-type': 'application/json', ...t.headers },
    body: t.body === undefined ? undefined : JSON.stringify(t.body),
    connections: opts.connections,
  };
  if (opts.warmupSeconds) await autocannon({ ...base, duration: opts.warmupSeconds });
  const r = await autocannon({ ...base, duration: opts.seconds });
  const total = r['2xx'] + r.non2xx;
  return { reqPerSec: r['2xx'] / r.duration, p50Ms: r.latency.p50, p99Ms: r.latency.p99, failures: r.non2xx + r.errors + r.timeouts, total };
}

/** A request sent by `paced`, with the time it left (epoch ms) and how it was answered. */
export interface PacedSend {
  i: number;
  sentAt: number;
  status: number;
  /** The answer body (JSON-parsed when it is JSON). */
  body: unknown;
}

/**
 * Open-loop load: sends `rate` requests per second for `seconds`, on schedule whatever the
 * answers take (up to `connections` sockets; requests beyond that queue in the pool, and their
 * `sentAt` is the time they were due, so a slow server shows in the latency rather than in a
 * lower rate). `make(i)` builds request number `i`.
 */
export async function paced(origin: string, make: (i: number) => Omit<Target, 'url'> & { path: string }, opts: { rate: number; seconds: number; connections: number }): Promise<PacedSend[]> {
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1 });
  const sends: Promise<PacedSend>[] = [];
  const start = Date.now();
  const total = Math.round(opts.rate * opts.seconds);
  try {
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * opts.rate));
        while (sends.length < due) {
          const i = sends.length;
          const sentAt = start + (i * 1000) / opts.rate;
          const req = make(i);
          sends.push(
            pool
              .request({
                method: req.method,
                path: req.path,
                headers: req.body === undefined ? req.headers : { 'content-type': 'application/json', ...req.headers },
                body: req.body === undefined ? undefined : JSON.stringify(req.body),
              })
              .then(async (res) => {
                const text = await res.body.text();
                let body: unknown = text;
                try {
                  body = JSON.parse(text);
                } catch {
                  // not JSON: kept as text
                }
                return { i, sentAt, status: res.statusCode, body };
              })
              .catch(() => ({ i, sentAt, status: 0, body: null })),
          );
        }
        if (sends.length >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    return await Promise.all(sends);
  } finally {
    await pool.close();
  }
}

/** The `q` quantile (0–1) of numbers, nearest rank; NaN for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Sends exactly `amount` requests as fast as `connections` allow (to fill a queue before a
 * worker starts); resolves with how many were answered 2xx.
 */
export async function preload(t: Target, amount: number, connections = 64): Promise<number> {
  const r = await autocannon({
    url: t.url,
    method: t.method,
    headers: t.body === undefined ? t.headers : { 'content-type': 'application/json', ...t.headers },
    body: t.body === undefined ? undefined : JSON.stringify(t.body),
    connections,
    amount,
  });
  return r['2xx'];
}

/**
 * Loads two servers in turns (`rounds` times each, `seconds` in all per side), so that whatever
 * else the machine is doing weighs on both alike. Rates are the means of the rounds' (each round
 * the same length); latency percentiles too.
 */
export async function alternate(a: Target, b: Target, opts: { connections: number; seconds: number; rounds: number }): Promise<[LoadResult, LoadResult]> {
  const each = { connections: opts.connections, seconds: opts.seconds / opts.rounds };
  const runs: [LoadResult[], LoadResult[]] = [[], []];
  for (let i = 0; i < opts.rounds; i++) {
    runs[0].push(await hammer(a, each));
    runs[1].push(await hammer(b, each));
  }
  const merge = (rs: LoadResult[]): LoadResult => ({
    reqPerSec: rs.reduce((x, r) => x + r.reqPerSec, 0) / rs.length,
    p50Ms: rs.reduce((x, r) => x + r.p50Ms, 0) / rs.length,
    p99Ms: rs.reduce((x, r) => x + r.p99Ms, 0) / rs.length,
    failures: rs.reduce((x, r) => x + r.failures, 0),
    total: rs.reduce((x, r) => x + r.total, 0),
  });
  return [merge(runs[0]), merge(runs[1])];
}
