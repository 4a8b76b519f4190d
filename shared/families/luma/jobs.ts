import { z } from 'zod';
import { defineJob, upstreamRetries } from '../../jobs/contract.js';
import { LUMA_QUEUE } from './task.js';

/**
 * Submits one Luma generation (or extension) to its upstream. The job ends once the upstream
 * accepted it; the tracker follows the generation from there, so a video that takes minutes
 * never holds a worker slot.
 */
export const lumaSubmit = defineJob({
  name: 'luma.submit',
  queue: LUMA_QUEUE,
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: true,
  options: upstreamRetries,
});
