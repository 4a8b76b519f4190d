import type { z } from 'zod';
import { mjSeed } from './mj-seed.js';
import { mjSubmit } from './mj-submit.js';

/** Every job kind relayq runs. The worker's processor map is typed from this object. */
export const jobKinds = {
  [mjSubmit.name]: mjSubmit,
  [mjSeed.name]: mjSeed,
} as const;

export type JobKinds = typeof jobKinds;
export type JobName = keyof JobKinds;
export type JobData<N extends JobName> = z.infer<JobKinds[N]['schema']>;
