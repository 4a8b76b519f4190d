import { z } from 'zod';
import { defineJob } from './contract.js';

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
