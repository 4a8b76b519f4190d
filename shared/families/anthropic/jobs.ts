import { z } from 'zod';
import { defineJob, upstreamRetries } from '../../jobs/contract.js';

/**
 * One Anthropic Messages call per job, on the family's own queue (`anthropic`). The request body
 * is the task's `request` blob; the answer becomes its `response` and `output`.
 */
export const anthropicRequest = defineJob({ name: 'anthropic.request', queue: 'anthropic', schema: z.object({ taskId: z.string().min(1) }), options: upstreamRetries, ownsTask: true });
