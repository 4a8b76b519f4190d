import type { z } from 'zod';
import { JOB_KINDS } from '../families/catalog.js';

/** Every job kind relayq runs (the families' and the core's). The worker's processor map is typed from it. */
export const jobKinds = JOB_KINDS;

export type JobKinds = typeof jobKinds;
export type JobName = keyof JobKinds & string;
export type JobData<N extends JobName> = z.infer<JobKinds[N]['schema']>;
