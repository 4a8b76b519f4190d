import type { Queue } from 'bullmq';
import { sleep } from './procs.js';

/** Jobs per second a set of workers took off a queue, over a window in which it never ran dry. */
export interface DrainResult {
  jobsPerSec: number;
  /** Jobs finished in the window. */
  processed: number;
  /** The window's length, in seconds (shorter when the queue ran dry first). */
  seconds: number;
  /** True when the queue ran dry before the window ended (the rate is then a lower bound). */
  ranDry: boolean;
}

/** Jobs not finished yet: waiting, prioritized, delayed or running. */
export async function pending(q: Queue): Promise<number> {
  const c = await q.getJobCounts('wait', 'paused', 'prioritized', 'delayed', 'active');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/**
 * Measures how fast the workers on `q` finish jobs: after `warmupMs`, counts the drop in
 * unfinished jobs over `seconds` (polled every 100 ms), the same way for relayq's worker and a
 * bare BullMQ worker. Both remove finished jobs, so the count needs no event stream.
 */
export async function drainRate(q: Queue, seconds: number, warmupMs = 500): Promise<DrainResult> {
  await sleep(warmupMs);
  const t1 = Date.now();
  const p1 = await pending(q);
  let t2 = t1;
  let p2 = p1;
  while (Date.now() - t1 < seconds * 1000) {
    await sleep(100);
    p2 = await pending(q);
    t2 = Date.now();
    if (p2 === 0) break;
  }
  const elapsed = (t2 - t1) / 1000;
  return { jobsPerSec: (p1 - p2) / elapsed, processed: p1 - p2, seconds: elapsed, ranDry: p2 === 0 };
}
