import { z } from 'zod';
import { defineJob, upstreamRetries } from '../../jobs/contract.js';

/**
 * Submits one MJ task (imagine, blend, describe, shorten, action, modal, face swap) to its
 * upstream. The job ends once the upstream accepted it; the tracker follows it from there, so a
 * minute-long Midjourney job never holds a worker slot.
 */
export const mjSubmit = defineJob({
  name: 'mj.submit',
  queue: 'mj',
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: true,
  options: upstreamRetries,
});

/** Asks the upstream for the seed of a finished MJ image and stores it on the task. */
export const mjSeed = defineJob({
  name: 'mj.seed',
  queue: 'mj',
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: false,
  // A client is waiting on it: run it next (lifo), retry quickly, give up fast.
  options: (config) => ({
    attempts: 2,
    lifo: true,
    backoff: { type: 'upstream', delay: Math.min(config.RETRY_BASE_DELAY_MS, 500) },
    removeOnComplete: true,
    removeOnFail: true,
  }),
});
