import type { Config } from '../config.js';
import { parseTaskId, type Placement } from '../ids.js';
import type { Queues } from '../queues.js';
import type { JobSpec } from '../tasks/store.js';
import { jobKinds, type JobData, type JobName } from './registry.js';

/**
 * The one way jobs are made, typed from the catalog: the data is checked against the job kind's
 * schema and the kind's options (attempts, backoff, retention) applied. `spec` is a job to write
 * together with its task (the task store adds it in the task's own transaction); `add` adds one
 * now. The job's queue is its kind's; its shard is the task's (or `placement`).
 * @throws Error when the data does not match the kind's schema (a bug, not a client error).
 */
export function createEnqueue(deps: { queues: Queues; config: Config }) {
  function spec<N extends JobName>(name: N, data: JobData<N>): JobSpec {
    const contract = jobKinds[name];
    const parsed = contract.schema.safeParse(data);
    if (!parsed.success) throw new Error(`job ${name}: data does not match its schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return { name, data: parsed.data as Record<string, unknown>, options: contract.options(deps.config) };
  }
  return {
    spec,
    /** Adds a job now. `jobId` makes it unique (BullMQ ignores a second add with the same id). */
    async add<N extends JobName>(name: N, data: JobData<N>, opts: { jobId: string; placement?: Placement }): Promise<void> {
      const job = spec(name, data);
      const taskPlacement = parseTaskId(String((data as { taskId?: unknown }).taskId ?? ''));
      const placement = opts.placement ?? (taskPlacement && taskPlacement.queue === jobKinds[name].queue ? taskPlacement : { queue: jobKinds[name].queue, shard: taskPlacement?.shard ?? 0 });
      await deps.queues.get(placement).add(job.name, job.data, { ...job.options, jobId: opts.jobId });
    },
  };
}

export type Enqueue = ReturnType<typeof createEnqueue>;
