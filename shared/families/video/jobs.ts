import { z } from 'zod';
import { defineJob, upstreamRetries } from '../../jobs/contract.js';

/**
 * Submits one video (a generation, or a remix on the channel that made its parent) to its
 * upstream. The job ends once the upstream accepted it; the tracker follows the video from there,
 * so minutes of rendering never hold a worker slot.
 */
export const videoSubmit = defineJob({
  name: 'video.submit',
  queue: 'video',
  schema: z.object({ taskId: z.string().min(1) }),
  ownsTask: true,
  options: upstreamRetries,
});
