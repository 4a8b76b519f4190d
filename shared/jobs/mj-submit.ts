import { z } from 'zod';
import { defineJob, upstreamRetries } from './contract.js';

/**
 * Submits one MJ task (imagine, blend, describe, shorten, action, modal, face swap) to its
 * upstream. The job ends once the upstream accepted it; the MJ tracker follows it from there,
 * so a minute-long Midjourney job never holds a worker slot.
 */
export const mjSubmit = defineJob({
  name: 'mj.submit',
  queue: 'mj',
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: true,
  options: upstreamRetries,
});
