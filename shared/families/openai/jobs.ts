import { z } from 'zod';
import { defineJob, upstreamRetries } from '../../jobs/contract.js';

const data = z.object({ taskId: z.string().min(1) });

/**
 * One OpenAI-style call per job, on the queue of its workload so text, image and audio scale
 * separately. The request body is the task's `request` blob; the answer becomes its `response`.
 */
export const textRequest = defineJob({ name: 'text.request', queue: 'text', schema: data, options: upstreamRetries, ownsTask: true });
export const imageRequest = defineJob({ name: 'image.request', queue: 'image', schema: data, options: upstreamRetries, ownsTask: true });
export const audioRequest = defineJob({ name: 'audio.request', queue: 'audio', schema: data, options: upstreamRetries, ownsTask: true });

/** Refreshes the cached upstream model list (`GET /v1/models`). */
export const openaiModels = defineJob({
  name: 'openai.models',
  queue: 'text',
  schema: z.object({ taskId: z.literal('models') }),
  ownsTask: false,
  options: (config) => ({ attempts: 2, lifo: true, backoff: { type: 'upstream', delay: Math.min(config.RETRY_BASE_DELAY_MS, 500) }, removeOnComplete: true, removeOnFail: true }),
});

/** The job that runs a task of each OpenAI queue. */
export const requestJobOf = { text: textRequest.name, image: imageRequest.name, audio: audioRequest.name } as const;
