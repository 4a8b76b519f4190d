import type { Config, QueueName } from '../shared/config.js';
import { QueueFullError, RateLimitedError, StoreUnavailableError } from '../shared/errors.js';
import { newTaskId, type Placement } from '../shared/ids.js';
import { jobKinds, type JobName } from '../shared/jobs/registry.js';
import { globalKeys } from '../shared/keys.js';
import type { Queues } from '../shared/queues.js';
import type { RedisClient } from '../shared/redis.js';
import type { Task } from '../shared/tasks/model.js';
import type { Blobs, JobSpec, TaskStore } from '../shared/tasks/store.js';

export interface SubmitDeps {
  config: Pick<Config, 'QUEUE_PREFIX' | 'MAX_QUEUE_DEPTH' | 'RATE_LIMIT_PER_MINUTE'> & Config;
  redis: RedisClient;
  store: TaskStore;
  queues: Queues;
}

export interface Submitted {
  task: Task;
  /** Tasks waiting ahead of this one when it was accepted. */
  ahead: number;
}

/**
 * The path every submission takes: rate limit, backlog check, then the task, its blobs and its
 * job written in one transaction — a 2xx means all of it is in Redis, an error means none is.
 */
export function createSubmitter(deps: SubmitDeps) {
  const { config, redis, store, queues } = deps;
  const keys = globalKeys(config.QUEUE_PREFIX);

  async function rateLimit(tenant: string): Promise<void> {
    const now = Date.now();
    const window = Math.floor(now / 60000);
    let count: number;
    try {
      const res = await redis.multi().incr(keys.rate(tenant, window)).expire(keys.rate(tenant, window), 61).exec();
      count = Number(res?.[0]?.[1] ?? 0);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    if (count > config.RATE_LIMIT_PER_MINUTE) throw new RateLimitedError(Math.max(1, Math.ceil(((window + 1) * 60000 - now) / 1000)));
  }

  async function admit(queue: QueueName): Promise<{ placement: Placement; ahead: number }> {
    const placement = queues.pick(queue);
    let ahead: number;
    try {
      ahead = await queues.depth(placement);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    if (ahead >= config.MAX_QUEUE_DEPTH) throw new QueueFullError(queue, ahead);
    return { placement, ahead };
  }

  const jobFor = (name: JobName, taskId: string): JobSpec => ({ name, data: { taskId }, options: jobKinds[name].options(config) });

  return {
    rateLimit,
    admit,
    jobFor,
    /**
     * Creates a task. With `job`, it is queued for a worker; without, it waits for the client
     * (an MJ task in MODAL).
     */
    async submit(args: { tenant: string; queue: QueueName; build: (id: string) => Task; blobs?: Blobs; job: JobName | null }): Promise<Submitted> {
      await rateLimit(args.tenant);
      const { placement, ahead } = await admit(args.queue);
      const task = args.build(newTaskId(placement));
      await store.create(task, { blobs: args.blobs, job: args.job ? jobFor(args.job, task.id) : undefined });
      return { task, ahead };
    },
  };
}

export type Submitter = ReturnType<typeof createSubmitter>;
