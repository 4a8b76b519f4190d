import { z } from 'zod';
import { defineJob, upstreamRetries } from '../../jobs/contract.js';

/**
 * Submits one Suno task (music, extend or lyrics) to its upstream. The job ends once the upstream
 * accepted it; the tracker follows the work from there, so a song that takes minutes never holds
 * a worker slot.
 */
export const sunoSubmit = defineJob({
  name: 'suno.submit',
  queue: 'suno',
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: true,
  options: upstreamRetries,
});
