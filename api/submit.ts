import { createHash } from 'node:crypto';
import type { Config, QueueName } from '../shared/config.js';
import { ConflictError, QueueFullError, StoreUnavailableError, ValidationError } from '../shared/errors.js';
import { newTaskId, type Placement } from '../shared/ids.js';
import { createEnqueue } from '../shared/jobs/enqueue.js';
import type { JobData, JobName } from '../shared/jobs/registry.js';
import { keyspace } from '../shared/keys.js';
import type { Queues } from '../shared/queues.js';
import type { RedisClient } from '../shared/redis.js';
import type { Task } from '../shared/tasks/model.js';
import type { Blobs, JobSpec, TaskStore } from '../shared/tasks/store.js';
import { createRateLimiter } from './rate-limit.js';

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
  /** The Idempotency-Key named an earlier task: this is that task, nothing new was created. */
  replayed: boolean;
}

const IDEMPOTENCY_SECONDS = 24 * 3600;

/**
 * How long (ms) an API process trusts the backlog count it last read from a queue. In between,
 * it counts its own submissions on top, so the count only errs high (a worker may have taken
 * jobs meanwhile): MAX_QUEUE_DEPTH may refuse early by what other API nodes accepted in the
 * last 250 ms, never late by what this one did. This takes a Redis round trip off most submits.
 */
const DEPTH_TRUST_MS = 250;

/**
 * What identifies "the same call" for an SDK retry: the endpoint and the request's bytes. A
 * multipart body's boundary is random per try, so it is left out. Returns a base64url SHA-256.
 */
export function callHash(endpoint: string, blobs: Blobs): string {
  const h = createHash('sha256').update(endpoint);
  for (const name of Object.keys(blobs).sort()) {
    const b = blobs[name]!;
    const boundary = /;\s*boundary="?([^";]+)"?/i.exec(b.type)?.[1];
    h.update(`\n${name}\n${boundary ? b.type.replace(boundary, '') : b.type}\n${b.filename ?? ''}\n`);
    h.update(boundary ? b.data.toString('latin1').split(boundary).join('') : b.data);
  }
  return h.digest('base64url');
}

/**
 * The path every submission takes: rate limit, backlog check, then the task, its blobs and its
 * job written in one transaction — a 2xx means all of it is in Redis, an error means none is.
 */
export function createSubmitter(deps: SubmitDeps) {
  const { config, redis, store, queues } = deps;
  const depths = new Map<string, { at: number; depth: number }>();
  const limiter = createRateLimiter({ redis, prefix: config.QUEUE_PREFIX, perMinute: config.RATE_LIMIT_PER_MINUTE });
  /** Takes one submission from the tenant's RATE_LIMIT_PER_MINUTE (see api/rate-limit.ts); throws RateLimitedError over it. */
  const rateLimit = (tenant: string) => limiter.take(tenant);

  /**
   * Picks the queue's shard (or keeps `at`) and refuses when its backlog is over MAX_QUEUE_DEPTH
   * (QueueFullError). `ahead` is the backlog it went by: an upper bound (see DEPTH_TRUST_MS),
   * not what to tell a client; a created task's exact count comes from the store.
   */
  async function admit(queue: QueueName, at?: Placement): Promise<{ placement: Placement; ahead: number }> {
    const placement = at ?? queues.pick(queue);
    const id = `${placement.queue}:${placement.shard}`;
    let known = depths.get(id);
    if (!known || Date.now() - known.at > DEPTH_TRUST_MS) {
      try {
        known = { at: Date.now(), depth: await queues.depth(placement) };
      } catch (err) {
        throw new StoreUnavailableError(err);
      }
      depths.set(id, known);
    }
    const ahead = known.depth;
    if (ahead >= config.MAX_QUEUE_DEPTH) throw new QueueFullError(queue, ahead);
    return { placement, ahead };
  }

  /** A job this process just queued: the backlog it trusts grows by one. */
  const queued = (placement: Placement) => {
    const known = depths.get(`${placement.queue}:${placement.shard}`);
    if (known) known.depth++;
  };

  const enqueue = createEnqueue({ queues, config });
  /** The job that runs a task (every task job's data is `{ taskId }`). */
  const jobFor = (name: JobName, taskId: string): JobSpec => enqueue.spec(name, { taskId } as JobData<typeof name>);

  return {
    rateLimit,
    admit,
    /** Counts a job queued outside `submit` (the MJ modal step) in the backlog this process trusts. */
    queued,
    jobFor,
    enqueue,
    /**
     * Creates a task. With `job`, it is queued for a worker; without, it waits for the client
     * (an MJ task in MODAL).
     */
    async submit(args: {
      tenant: string;
      queue: QueueName;
      build: (id: string) => Task;
      blobs?: Blobs;
      job: JobName | null;
      idempotencyKey?: string | undefined;
      /**
       * A plain OpenAI-style call that an SDK retry may join: `hash` is its callHash, `retry`
       * says this request is such a retry. The task is remembered under the hash for
       * SYNC_WAIT_SECONDS + 15 min; a retry joins it while it runs or after it succeeded.
       */
      join?: { hash: string; retry: boolean } | undefined;
    }): Promise<Submitted> {
      const idem = args.idempotencyKey !== undefined ? claimKey(args.tenant, args.queue, args.idempotencyKey) : null;
      if (idem) {
        const earlier = await idem.earlier();
        if (earlier) return { task: earlier, ahead: 0, replayed: true };
      }
      const join = args.join ? recentCall(args.tenant, args.queue, args.join.hash) : null;
      if (join && args.join?.retry) {
        const earlier = await join.earlier();
        if (earlier) return { task: earlier, ahead: 0, replayed: true };
      }
      try {
        await rateLimit(args.tenant);
        const { placement } = await admit(args.queue, idem?.placement ?? join?.placement);
        const task = args.build(idem?.id ?? newTaskId(placement));
        const aliases = join ? [{ key: join.key, ttlSeconds: config.SYNC_WAIT_SECONDS + 900 }] : [];
        const created = await store.create(task, { blobs: args.blobs, job: args.job ? jobFor(args.job, task.id) : undefined, aliases });
        if (args.job) queued(placement);
        return { task, ahead: created.ahead ?? 0, replayed: false };
      } catch (err) {
        await idem?.release();
        throw err;
      }
    },
  };

  /**
   * Where a plain call is remembered for its SDK retries: under the hash tag of the shard the
   * call's hash points to, so the task and the note are written in one transaction.
   */
  function recentCall(tenant: string, queue: QueueName, hash: string) {
    const placement = queues.placementFor(queue, Buffer.from(hash, 'base64url').readUInt32BE(0));
    const key = keyspace(config.QUEUE_PREFIX, placement).recentCall(tenant, hash);
    return {
      placement,
      key,
      /** The task of the first try, while it is unfinished or succeeded; null otherwise. */
      async earlier(): Promise<Task | null> {
        let id: string | null;
        try {
          id = await redis.get(key);
        } catch (err) {
          throw new StoreUnavailableError(err);
        }
        const task = id ? await store.get(id) : null;
        return task && task.status !== 'failed' && task.status !== 'canceled' ? task : null;
      },
    };
  }

  /**
   * An Idempotency-Key claims a task id for 24 h before the task exists (SET NX), under the hash
   * tag of the shard the key hashes to, so the task lands where its key points.
   */
  function claimKey(tenant: string, queue: QueueName, key: string) {
    if (key.length === 0 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
      throw new ValidationError('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
    }
    const digest = createHash('sha256').update(key).digest();
    const placement = queues.placementFor(queue, digest.readUInt32BE(0));
    const redisKey = keyspace(config.QUEUE_PREFIX, placement).idempotency(tenant, digest.toString('base64url'));
    const id = newTaskId(placement);
    return {
      placement,
      id,
      /** The task an earlier request with this key created, or null when this request is the first. */
      async earlier(): Promise<Task | null> {
        let claimed: string | null;
        let existing: string | null = null;
        try {
          claimed = await redis.set(redisKey, id, 'EX', IDEMPOTENCY_SECONDS, 'NX');
          if (!claimed) existing = await redis.get(redisKey);
        } catch (err) {
          throw new StoreUnavailableError(err);
        }
        if (claimed || !existing) return null;
        const task = await store.get(existing);
        if (!task) throw new ConflictError('a request with this Idempotency-Key is still being processed; retry shortly', 'Idempotency-Key');
        return task;
      },
      /** Frees the key when the task could not be created, so a retry can succeed. */
      async release() {
        await redis
          .eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, redisKey, id)
          .catch(() => undefined);
      },
    };
  }
}

export type Submitter = ReturnType<typeof createSubmitter>;

/** The `Idempotency-Key` header of a request, if it sent one. */
export function idempotencyKeyOf(req: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const v = req.headers['idempotency-key'];
  return Array.isArray(v) ? v[0] : v;
}
