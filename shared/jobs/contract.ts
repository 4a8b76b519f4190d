import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config.js';

/** One job kind: its wire name, the queue it runs on, its data schema and its default options. */
export interface JobContract<Name extends string = string, Schema extends z.ZodType = z.ZodType> {
  name: Name;
  /** The queue it runs on (one of the catalog's). */
  queue: string;
  schema: Schema;
  options: (config: Config) => JobsOptions;
  /** The job carries a task (`data.taskId`) that must end failed when the job gives up. */
  ownsTask: boolean;
}

export const defineJob = <const Name extends string, Schema extends z.ZodType>(
  c: JobContract<Name, Schema>,
): JobContract<Name, Schema> => c;

/**
 * Retries of upstream failures use the worker's `upstream` backoff strategy (exponential with
 * jitter, honouring Retry-After); tests shrink the base delay through RETRY_BASE_DELAY_MS.
 */
export const upstreamRetries = (config: Config): JobsOptions => ({
  attempts: config.JOB_ATTEMPTS,
  backoff: { type: 'upstream', delay: config.RETRY_BASE_DELAY_MS },
  // The task record keeps the result; the job itself is only the carrier.
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600, count: 10000 },
});
