import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config, QueueName } from '../shared/config.js';
import { CanceledError, ChannelBusyError, PermanentUpstreamError, RetryableUpstreamError, ValidationError } from '../shared/errors.js';
import { QUEUES } from '../shared/families/catalog.js';
import { jobKinds, type JobData, type JobName } from '../shared/jobs/registry.js';
import { keyspace, placements } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { createCancelSignal } from '../shared/protocols/cancel.js';
import type { Signals } from '../shared/signals.js';
import { errorOf, type TaskError } from '../shared/tasks/model.js';
import type { TaskStore } from '../shared/tasks/store.js';
import { bullTelemetry } from '../shared/telemetry/index.js';
import { redactBody } from '../shared/redact.js';
import { CHANNEL_REFUSALS } from './channels/run.js';

export interface JobContext<N extends JobName> {
  job: Job;
  data: JobData<N>;
  log: Logger;
  /** Aborted when the client cancels the task this job works on. */
  signal: AbortSignal;
}

export type Processor<N extends JobName> = (ctx: JobContext<N>) => Promise<void>;
/** One processor per job kind: a missing one is a compile error (and a startup error). */
export type Processors = { [N in JobName]: Processor<N> };

export interface DispatchDeps {
  config: Config;
  log: Logger;
  connection: RedisClient;
  store: TaskStore;
  signals: Signals;
  processors: Processors;
}

const MAX_BACKOFF_MS = 10 * 60_000;

/**
 * Delay before the next attempt: the upstream's Retry-After when it gave one, else exponential
 * from the base delay with full jitter in its upper half.
 */
export function backoffDelay(attemptsMade: number, baseMs: number, err: unknown, random = Math.random): number {
  const retryAfter = err instanceof RetryableUpstreamError ? err.retryAfterMs : undefined;
  if (retryAfter !== undefined) return Math.min(retryAfter + Math.floor(random() * baseMs * 0.1), MAX_BACKOFF_MS * 6);
  const exp = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), MAX_BACKOFF_MS);
  return Math.floor(exp / 2 + random() * (exp / 2));
}

/**
 * The job data field (beside what the job kind's schema reads, which drops it) that adds up how
 * long the job has waited for failing channels, ms.
 */
const CHANNEL_WAIT_FIELD = 'channelWaitMs';
const channelWaitOf = (job: Job): number => {
  const v = (job.data as Record<string, unknown> | null)?.[CHANNEL_WAIT_FIELD];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
};

/** Jobs one worker process runs at once on a queue (the catalog's setting for it). */
function concurrencyOf(config: Config, queue: QueueName): number {
  return QUEUES.find((q) => q.name === queue)?.concurrency(config) ?? 10;
}

/**
 * The longest wait (ms) for another attempt that relayq accepts from an upstream's `Retry-After`.
 * A longer one (a daily token limit: "try again in 2m0s" with `Retry-After: 120`) ends the task at
 * once with the upstream's own 429, as a direct call would end: waiting would hold sync callers
 * past their timeouts without ever telling them why. The openai Python SDK draws the same line
 * (it honours a Retry-After of at most 60 s). The channel runner has already tried every other
 * channel that could serve by the time such an error gets here, and the channel that sent it
 * stays cooled down for the whole Retry-After.
 */
export const LONG_RETRY_AFTER_MS = 60_000;

const seconds = (ms: number) => Math.ceil(ms / 1000);

/** A retryable failure that asks for a wait longer than LONG_RETRY_AFTER_MS: final at once. */
const waitsTooLong = (err: unknown) =>
  (err instanceof RetryableUpstreamError && (err.retryAfterMs ?? 0) > LONG_RETRY_AFTER_MS) ||
  (err instanceof ChannelBusyError && err.rateLimited && err.waitMs > LONG_RETRY_AFTER_MS);

/** A refusal of the channel's key, account or quota (401, 402, 403, 407, 511), not of the request. */
const isChannelRefusal = (err: unknown): boolean => err instanceof PermanentUpstreamError && CHANNEL_REFUSALS.has(err.status ?? 0);

/** Whether an error ends the task now; everything else is retried while attempts remain. */
const isPermanent = (err: unknown) => err instanceof PermanentUpstreamError || err instanceof ValidationError || waitsTooLong(err);

/** The task error for an upstream failure: the upstream's own type/code/param when it named them. */
function upstreamTaskError(err: PermanentUpstreamError | RetryableUpstreamError, message: string, fallbackCode: string): TaskError {
  const said = err.upstreamError;
  return {
    type: said?.type ?? 'upstream_error',
    code: said ? said.code : fallbackCode,
    message,
    ...(err.status !== undefined ? { status: err.status } : {}),
    ...(said ? { param: said.param } : {}),
  };
}

/**
 * How a failure reads on the task (and to a sync caller): see TaskError. `waitedMs`: how long the
 * job waited in all for failing channels (CHANNEL_WAIT_SECONDS).
 */
function taskErrorOf(err: unknown, attempts: number, waitedMs = 0): TaskError {
  if (err instanceof PermanentUpstreamError && isChannelRefusal(err)) {
    // The upstream refused relayq's own credentials (or account, quota, proxy login) on every
    // channel that could serve: the client's key is fine, so it must not read as the client's 401.
    const code = err.status === 402 ? 'upstream_payment_required' : 'upstream_credentials_refused';
    return { ...errorOf('upstream_error', code, `the upstream refused relayq's channel credentials (HTTP ${err.status}): ${err.message}`), status: 502 };
  }
  if (err instanceof PermanentUpstreamError) return upstreamTaskError(err, err.message, String(err.status ?? err.code ?? 'upstream_refused'));
  if (err instanceof RetryableUpstreamError) {
    const fallback = String(err.status ?? 'upstream_unavailable');
    if (waitsTooLong(err)) return upstreamTaskError(err, `${err.message} (the upstream asks to wait ${seconds(err.retryAfterMs!)} s; relayq waits at most ${seconds(LONG_RETRY_AFTER_MS)} s)`, fallback);
    return upstreamTaskError(err, `${err.message} (gave up after ${attempts} attempts)`, fallback);
  }
  if (err instanceof ChannelBusyError && waitsTooLong(err)) {
    const message = `rate limited upstream: ${err.reason}, for another ${seconds(err.waitMs)} s (relayq waits at most ${seconds(LONG_RETRY_AFTER_MS)} s)`;
    return { ...errorOf('upstream_error', 'rate_limit_exceeded', message), status: 429 };
  }
  if (err instanceof ChannelBusyError && err.failing) return { ...errorOf('upstream_error', 'no_healthy_channel', `${err.reason} (relayq waited ${seconds(waitedMs)} s in all for a healthy channel)`), status: 503 };
  if (err instanceof ValidationError) return errorOf('invalid_request', 'invalid_job', err.message);
  return errorOf('internal_error', 'internal_error', `internal error (gave up after ${attempts} attempts)`);
}

/**
 * The one place that knows BullMQ's error semantics: validates job data again, runs the
 * processor, turns permanent failures into UnrecoverableError and records the final failure on
 * the task before BullMQ gives up on the job.
 */
export function createDispatcher(deps: DispatchDeps) {
  const { config, log, store } = deps;
  const active = new Map<string, AbortController>();
  const workers: Worker[] = [];

  const missing = Object.keys(jobKinds).filter((k) => typeof (deps.processors as Record<string, unknown>)[k] !== 'function');
  if (missing.length > 0) throw new Error(`no processor for job kinds: ${missing.join(', ')}`);

  /**
   * Ends a task failed. An upstream refusal that came with its own answer keeps it, in the same
   * change, so a sync caller gets exactly what the upstream said.
   */
  async function failTask(taskId: string, error: TaskError, cause?: unknown) {
    const task = await store.get(taskId);
    if (!task) return;
    // The upstream's own answer is kept for the client, keys quoted in it removed; a refusal of
    // relayq's channel credentials is relayq's trouble, told by the task error instead.
    const refusedCredentials = isChannelRefusal(cause);
    const refusal = cause instanceof PermanentUpstreamError && cause.response && cause.status && !refusedCredentials ? { ...cause.response, status: cause.status } : null;
    const blobs = refusal ? { response: { type: refusal.contentType, data: redactBody(refusal.body, refusal.contentType) } } : undefined;
    // (The store redacts the error message it writes: shared/tasks/store.ts updateArgs.)
    const response = refusal ? { status: refusal.status, content_type: refusal.contentType } : undefined;
    await store.update(task, { status: 'failed', ...(blobs ? { blobs } : {}), patch: { completed_at: Date.now(), error, ...(response ? { response } : {}) } });
  }

  // Set when the grace period is over: jobs still running are left to other workers, so whatever
  // they end with is never reported to BullMQ. (Reporting it would run on connections being
  // closed, and BullMQ's worker retries a connection error without delay while it closes: a
  // microtask loop that starves the timers and never lets the process exit.)
  let abandoned = false;
  const never = () => new Promise<never>(() => undefined);

  async function process(job: Job, token?: string): Promise<void> {
    const name = job.name as JobName;
    const contract = jobKinds[name];
    if (!contract) throw new UnrecoverableError(`unknown job kind ${job.name}`);
    const parsed = contract.schema.safeParse(job.data);
    if (!parsed.success) {
      log.error({ jobId: job.id, kind: job.name }, 'invalid job data');
      throw new UnrecoverableError(`invalid job data for ${job.name}`);
    }
    const data = parsed.data as JobData<typeof name>;
    const attempt = job.attemptsMade + 1;
    const jlog = log.child({ taskId: data.taskId, jobId: job.id, kind: job.name, attempt });
    const ac = new AbortController();
    active.set(data.taskId, ac);
    try {
      await (deps.processors[name] as Processor<typeof name>)({ job, data, log: jlog, signal: ac.signal });
      if (abandoned) return await never();
    } catch (err) {
      if (abandoned) return await never();
      // The task is already canceled; the job has nothing left to do.
      if (err instanceof CanceledError || ac.signal.aborted) return;
      // A wait for failing channels counts toward CHANNEL_WAIT_SECONDS; past it the task ends.
      const waited = channelWaitOf(job);
      const waitedOut = err instanceof ChannelBusyError && err.failing && waited >= config.CHANNEL_WAIT_SECONDS * 1000;
      if (err instanceof ChannelBusyError && token && !waitsTooLong(err) && !waitedOut) {
        // Parked until a channel can take it: no worker slot held, no attempt used.
        let delay = err.waitMs + Math.floor(Math.random() * Math.min(200, err.waitMs / 5 + 20));
        if (err.failing) {
          delay = Math.max(1, Math.min(delay, config.CHANNEL_WAIT_SECONDS * 1000 - waited));
          await job.updateData({ ...(job.data as object), [CHANNEL_WAIT_FIELD]: waited + delay });
        }
        jlog.debug({ waitMs: delay, reason: err.reason }, 'waiting for a channel');
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError();
      }
      const attempts = job.opts.attempts ?? 1;
      const permanent = isPermanent(err) || waitedOut;
      jlog.warn({ err, permanent, attemptsLeft: attempts - attempt }, 'job attempt failed');
      if (permanent || attempt >= attempts) {
        if (contract.ownsTask) await failTask(data.taskId, taskErrorOf(err, attempt, waited), err);
        if (permanent) throw new UnrecoverableError((err as Error).message);
      }
      throw err;
    } finally {
      active.delete(data.taskId);
    }
  }

  return {
    async start(queues: QueueName[]) {
      // Cancel requests from any API node reach the job holding the task here.
      await createCancelSignal({ signals: deps.signals, prefix: config.QUEUE_PREFIX }).listen((taskId) => active.get(taskId)?.abort());
      const served = new Set(Object.values(jobKinds).map((k) => k.queue));
      for (const queue of queues.filter((q) => served.has(q))) {
        for (const p of placements(queue, config.QUEUE_SHARDS)) {
          const worker = new Worker(queue, process, {
            connection: deps.connection,
            prefix: keyspace(config.QUEUE_PREFIX, p).bullPrefix,
            concurrency: concurrencyOf(config, queue),
            maxStalledCount: 3,
            lockDuration: config.WORKER_LOCK_MS,
            stalledInterval: config.WORKER_LOCK_MS,
            settings: { backoffStrategy: (made: number, _type?: string, err?: Error) => backoffDelay(made, config.RETRY_BASE_DELAY_MS, err) },
            // With tracing on, a job runs inside the trace of the request that made it.
            ...bullTelemetry(),
          });
          worker.on('error', (err) => log.warn({ err, queue }, 'worker connection error'));
          // A job that stalled too often fails outside `process`: its task must still end.
          // (failTask never touches a finished task, so the usual final failure is a no-op here.)
          worker.on('failed', (job) => {
            if (!job || !jobKinds[job.name as JobName]?.ownsTask) return;
            void job
              .getState()
              .then((state) =>
                state === 'failed' ? failTask((job.data as { taskId: string }).taskId, errorOf('internal_error', 'job_failed', 'the job failed on every worker that took it')) : undefined,
              )
              .catch(() => undefined);
          });
          workers.push(worker);
        }
      }
      log.info({ queues, workers: workers.length }, 'workers started');
    },

    /**
     * Stops taking jobs; in-flight jobs get `graceMs` to finish. Past that it returns anyway and
     * the process exits with them unfinished: their BullMQ locks lapse and the stalled-job check
     * hands them to a live worker (nothing is acknowledged, so nothing is lost). BullMQ's own
     * forced close cannot help here: once a graceful close is under way, `close(true)` only
     * returns that same pending close.
     */
    async close(graceMs: number) {
      const closing = Promise.all(workers.map((w) => w.close()));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([closing, timer])) === 'timeout') {
        abandoned = true;
        log.warn({ graceMs, jobs: active.size }, 'grace period over; leaving unfinished jobs to other workers');
      }
    },
  };
}
