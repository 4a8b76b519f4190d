import type { z } from 'zod';
import { mjSeed } from './mj-seed.js';
import { audioRequest, imageRequest, openaiModels, textRequest } from './openai.js';
import { webhookDeliver } from './webhook-deliver.js';
import { mjSubmit } from './mj-submit.js';

/** Every job kind relayq runs. The worker's processor map is typed from this object. */
export const jobKinds = {
  [mjSubmit.name]: mjSubmit,
  [mjSeed.name]: mjSeed,
  [textRequest.name]: textRequest,
  [imageRequest.name]: imageRequest,
  [audioRequest.name]: audioRequest,
  [openaiModels.name]: openaiModels,
  [webhookDeliver.name]: webhookDeliver,
} as const;

/** The job that runs a task of each OpenAI queue. */
export const requestJobOf = { text: textRequest.name, image: imageRequest.name, audio: audioRequest.name } as const;

export type JobKinds = typeof jobKinds;
export type JobName = keyof JobKinds;
export type JobData<N extends JobName> = z.infer<JobKinds[N]['schema']>;
