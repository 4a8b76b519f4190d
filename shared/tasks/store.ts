import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Job, SpanKind, type JobsOptions } from 'bullmq';
import type { Result } from 'ioredis';
import type { Config, QueueName } from '../config.js';
import { storeCall } from '../errors.js';
import { parseTaskId, type Placement } from '../ids.js';
import { globalKeys, keyspace, placements } from '../keys.js';
import type { Queues } from '../queues.js';
import type { MetricsRecorder } from '../metrics.js';
import type { RedisClient } from '../redis.js';
import { createRedisBlobStore, type BlobInfo, type BlobReader, type BlobStore, type Blobs, type ByteRange } from '../blobs.js';
import { familyOfKind, familyOfQueue } from '../families/catalog.js';
import type { FamilyDef } from '../families/types.js';
import { redact } from '../redact.js';
import { defaultsForm, listForm, type StoredForm } from './forms.js';
import { isTerminal, type Task, type TaskPatch, type TaskStatus } from './model.js';
import { baseFields } from './new.js';

const UPDATE_LUA = readFileSync(new URL('./update.lua', import.meta.url), 'utf8');

/** BullMQ's own job-add script, from the installed package (so it always matches its version). */
const BULLMQ_ADD_STANDARD_JOB = (createRequire(import.meta.url)('bullmq/dist/cjs/scripts/addStandardJob-9.js') as { addStandardJob: { content: string } }).addStandardJob.content;

/** create.lua with BullMQ's addStandardJob included as a function (a replacer function: the Lua holds `$`). */
const CREATE_LUA = readFileSync(new URL('./create.lua', import.meta.url), 'utf8').replace(
  '--@bullmq-addStandardJob',
  () => `local function bullmqAddStandardJob(KEYS, ARGV)\n${BULLMQ_ADD_STANDARD_JOB}\nend`,
);

declare module 'ioredis' {
  interface RedisCommander<Context> {
    relayqTaskUpdate(...args: (string | number | Buffer)[]): Result<UpdateReply | null, Context>;
    relayqTaskCreate(...args: (string | number | Buffer)[]): Result<[number, number], Context>;
    relayqTaskAnnotate(...args: string[]): Result<number, Context>;
    relayqWebhookIdle(...args: string[]): Result<number, Context>;
  }
}

export type { Blob, BlobReader, Blobs } from '../blobs.js';

/** The update script's answer: applied (0|1), the status after; a finishing change adds the task's kind and created_at (JSON). */
type UpdateReply = [number, string, (string | null)?, (string | null)?];

export interface JobSpec {
  name: string;
  data: Record<string, unknown>;
  options: JobsOptions;
}

/** One change of a task (an entry of its event log, id `<ms>-<seq>`: Redis time in ms, then a sequence number). */
export interface TaskEvent {
  id: string;
  /** The status after the change. */
  status: TaskStatus;
  /** Whether the change moved the status; null for entries written before this was recorded. */
  changed: boolean | null;
  /** The task fields the change wrote. */
  fields: string[];
  progress: number | null;
  /** The whole task as of this change: kept for tasks with a webhook, for running and final changes. */
  snapshot: Task | null;
}

export interface CreateResult {
  /**
   * With a job: how many jobs wait in its queue ahead of it, counted in the same transaction
   * that added it (wait, prioritized and paused lists); null without a job.
   */
  ahead: number | null;
}

export interface UpdateResult {
  applied: boolean;
  status: TaskStatus;
}

/** A change to write to a task; `T` narrows the patch to one family's fields. */
export interface TaskChange<T extends Task = Task> {
  status?: TaskStatus;
  /** Apply only when the task is currently in one of these statuses. */
  from?: TaskStatus[];
  patch?: TaskPatch<T>;
  /**
   * Outputs to keep with the change (e.g. the upstream's answer). With blobs in Redis they are
   * written in the same atomic step, and only when the change applies; other stores write them
   * just before.
   */
  blobs?: Blobs;
}

/** What `create` writes with a task. */
export interface CreateOptions {
  blobs?: Blobs;
  job?: JobSpec;
  /** Keys that name the task (e.g. a call hash), kept `ttlSeconds`; they must carry the task's hash tag. */
  aliases?: { key: string; ttlSeconds: number }[];
}

export interface TaskStore {
  /**
   * Writes the task, its blobs, its index entries, (optionally) its job and `aliases` atomically:
   * one script (shared/tasks/create.lua) that includes BullMQ's own job add, or for traced queues
   * and jobs that are not a standard add, one MULTI/EXEC with BullMQ's add queued into it.
   * @throws StoreUnavailableError when Redis fails; Error when BullMQ refuses the job (nothing written).
   */
  create(task: Task, opts?: CreateOptions): Promise<CreateResult>;
  get(id: string): Promise<Task | null>;
  /** Only the status (cheap, for loops that watch a task); null when it does not exist. */
  status(id: string): Promise<TaskStatus | null>;
  getMany(ids: string[]): Promise<Task[]>;
  /** Moves a task forward; null when it does not exist. Finished tasks never change. */
  update(task: Pick<Task, 'id' | 'tenant'>, change: TaskChange): Promise<UpdateResult | null>;
  /**
   * `update` plus new blobs and a job, atomically (the MJ modal step); `ahead` is counted in the
   * same transaction, as `create` counts it.
   */
  updateAndEnqueue(task: Pick<Task, 'id' | 'tenant'>, change: TaskChange, opts: { blobs?: Blobs; job: JobSpec }): Promise<(UpdateResult & { ahead: number }) | null>;
  /** Adds facts to a task whatever its status (e.g. the seed of a finished image); no-op when it is gone. */
  annotate(id: string, patch: Record<string, unknown>): Promise<boolean>;
  /** Adds blobs (outputs) to an existing task; no-op when it is gone. */
  putBlobs(id: string, blobs: Blobs): Promise<boolean>;
  /** Adds one output blob from a stream (an archived download): its size, or null when the task is gone. See BlobStore.putStream. */
  putBlobStream(id: string, name: string, type: string, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<number | null>;
  /** One blob of the task (or `range` of it) as a stream; null when there is none. */
  openBlob(id: string, name: string, range?: ByteRange): Promise<BlobReader | null>;
  /** What is known of one blob of the task, its size included; null when there is none. */
  statBlob(id: string, name: string): Promise<(BlobInfo & { size: number }) | null>;
  /** Entries of the task's event log after `afterId` ('0' for all; from it with `inclusive`), at most 1000. */
  events(id: string, afterId: string, opts?: { inclusive?: boolean }): Promise<TaskEvent[]>;
  /**
   * Takes the task off the webhook due set when no change came after `eventId` ('0': none at
   * all), atomically with that check; true when it did (false: the pump must come back).
   */
  idleAfter(id: string, eventId: string): Promise<boolean>;
  /**
   * A tenant's tasks over the given queues, newest first: up to `limit` older than the cursor task
   * (same millisecond: smaller id). `more` says whether older ones exist. Index entries of
   * tasks that expired are dropped as they are met.
   */
  listByTenant(tenant: string, queues: readonly QueueName[], limit: number, before?: Pick<Task, 'created_at' | 'id'>): Promise<{ tasks: Task[]; more: boolean }>;
  activeByTenant(tenant: string, queue: QueueName): Promise<Task[]>;
  blobs(id: string): Promise<Blobs>;
}

/** Forms of fields every task has: an upstream call's status and error are mostly null. */
const BASE_FORMS: Readonly<Record<string, StoredForm>> = {
  channel_attempts: listForm(defaultsForm(['channel', 'at', 'outcome', 'status', 'error'], { status: null, error: null })),
};

/** How a family's tasks are stored: the stored forms of its fields, and the JSON of each default a new record leaves out. */
interface Storage {
  forms: Readonly<Record<string, StoredForm>>;
  defaults: ReadonlyMap<string, string>;
}

const storages = new Map<FamilyDef | undefined, Storage>();

/**
 * The storage of a family's tasks (undefined: a kind no family has). Defaults are the base fields'
 * (but `status` and `created_at`, which every record holds) and what the family's `complete` puts
 * back into a record that lacks its fields.
 */
function storageOf(family: FamilyDef | undefined): Storage {
  let s = storages.get(family);
  if (!s) {
    const { status: _status, created_at: _created, ...base } = baseFields(0);
    const own = family?.complete ? (family.complete({} as never) as unknown as Record<string, unknown>) : {};
    const defaults = new Map(Object.entries({ ...base, ...own }).map(([k, v]) => [k, JSON.stringify(v)]));
    s = { forms: { ...BASE_FORMS, ...family?.storedForms }, defaults };
    storages.set(family, s);
  }
  return s;
}

/**
 * A task (or patch) as hash fields, one JSON value each, in its field's stored form when that
 * form is shorter and gives the value back exactly; `family` and `id` are never stored (the kind
 * says the one, the record's key the other).
 * With `leaveDefaults` (a new record), fields that hold their default are left out: decode puts
 * them back. A patch writes every field it has, defaults too (they replace what was stored).
 */
function encode(obj: Record<string, unknown>, storage: Storage, leaveDefaults = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || k === 'family' || k === 'id') continue;
    const json = JSON.stringify(v);
    if (leaveDefaults && storage.defaults.get(k) === json) continue;
    out[k] = json;
    const form = storage.forms[k];
    if (!form) continue;
    const packed = JSON.stringify(form.pack(v));
    if (packed.length < json.length && JSON.stringify(form.unpack(JSON.parse(packed))) === json) out[k] = packed;
  }
  return out;
}

/** A new task's record (its defaults left out). */
const encodeNew = (task: Task) => encode(task as unknown as Record<string, unknown>, storageOf(familyOfKind(task.kind)), true);

/** Task `id` from HGETALL's flat `[field, value, …]` form (as the update script snapshots it). */
function decodePairs(flat: string[], id: string): Task | null {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return decode(hash, id);
}

/**
 * Task `id` from its hash (null when there is none): its family (from the catalog, by kind), its
 * fields out of their stored forms, the defaults a record leaves out, and the family's defaults
 * for fields an older record lacks. Records stored before hold their `id` too.
 */
function decode(hash: Record<string, string>, id: string): Task | null {
  if (!hash.status) return null;
  const kind = hash.kind ? String(JSON.parse(hash.kind)) : '';
  const family = familyOfKind(kind);
  const { forms } = storageOf(family);
  const out: Record<string, unknown> = baseFields(0);
  for (const [k, v] of Object.entries(hash)) {
    const value = JSON.parse(v) as unknown;
    out[k] = forms[k] ? forms[k].unpack(value) : value;
  }
  out.id = id;
  out.family = family?.name ?? 'unknown';
  const task = out as unknown as Task;
  return family?.complete ? (family.complete(task) as Task) : task;
}


/**
 * How long (s) the whole event log of a finished task stays: an hour covers an event stream that
 * reconnects after the end (SSE resume with Last-Event-ID gives exactly what followed). Past it,
 * the history folded at the end (every status change and the final entry) serves, for as long as
 * the task is kept: a finished MJ task polled for a minute keeps 3 or 4 entries, not dozens.
 */
export const FULL_EVENT_LOG_SECONDS = 3600;

/** `<ms>-<seq>` as two numbers (a malformed id reads as 0-0). */
function parseEventId(id: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(id);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

const compareEventIds = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];

function execOk(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('transaction aborted');
  return results.map(([err, res]) => {
    if (err) throw err;
    return res;
  });
}

export function createTaskStore(deps: {
  redis: RedisClient;
  queues: Queues;
  config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_SHARDS' | 'TASK_RETENTION_SECONDS'>;
  /** Where blobs live; Redis (next to the task) by default. */
  blobs?: BlobStore;
  /** Counts submitted and finished tasks (by kind, outcome, duration) when given. */
  metrics?: MetricsRecorder;
  /**
   * How long (s) a finished task's whole event log stays, for event streams resumed after the end
   * (default FULL_EVENT_LOG_SECONDS); after that only its folded history (status changes) does.
   */
  fullEventLogSeconds?: number;
}): TaskStore {
  const { redis, queues, config } = deps;
  const fullLogSeconds = deps.fullEventLogSeconds ?? FULL_EVENT_LOG_SECONDS;
  const blobStore = deps.blobs ?? createRedisBlobStore({ redis, prefix: config.QUEUE_PREFIX });
  const prefix = config.QUEUE_PREFIX;
  redis.defineCommand('relayqTaskUpdate', { numberOfKeys: 6, lua: UPDATE_LUA });
  redis.defineCommand('relayqTaskCreate', { numberOfKeys: 16, lua: CREATE_LUA });
  // Leaves the webhook due set only when the log's last entry is not after the cursor.
  redis.defineCommand('relayqWebhookIdle', {
    numberOfKeys: 3,
    lua: `local last = redis.call('LINDEX', KEYS[1], -1) or redis.call('LINDEX', KEYS[3], -1)
if last and ARGV[1] ~= '0' then
  local lms, lseq = string.match(last, '^%["(%d+)%-(%d+)"')
  local cms, cseq = string.match(ARGV[1], '^(%d+)%-(%d+)$')
  if tonumber(lms) > tonumber(cms) or (tonumber(lms) == tonumber(cms) and tonumber(lseq) > tonumber(cseq)) then return 0 end
elseif last then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`,
  });
  // HSET only into an existing record: a write must never resurrect an expired task without a TTL.
  redis.defineCommand('relayqTaskAnnotate', {
    numberOfKeys: 1,
    lua: "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end redis.call('HSET', KEYS[1], unpack(ARGV)) return 1",
  });
  const ks = (p: Placement) => keyspace(prefix, p);
  const place = (id: string) => parseTaskId(id);

  const updateArgs = (task: Pick<Task, 'id' | 'tenant'>, p: Placement, change: TaskChange) => {
    const k = ks(p);
    const patch = (change.patch ?? {}) as Record<string, unknown>;
    // Upstream failure text may quote a channel's key back: never stored, never shown.
    const error = patch.error as { message?: unknown } | null | undefined;
    const clean = error && typeof error.message === 'string' ? { ...patch, error: { ...error, message: redact(error.message) } } : patch;
    const fields = Object.entries(encode(clean, storageOf(familyOfQueue(p.queue)))).flat();
    const blobFields = change.blobs && blobStore.inlineFields ? Object.entries(blobStore.inlineFields(change.blobs)).flat() : [];
    return [
      k.task(task.id),
      k.blobs(task.id),
      k.tenantActive(task.tenant),
      k.events(task.id),
      k.webhookDue,
      k.history(task.id),
      change.status ?? '',
      (change.from ?? []).join(','),
      config.TASK_RETENTION_SECONDS,
      task.id,
      globalKeys(prefix).taskChannel(task.id),
      fullLogSeconds,
      blobFields.length / 2,
      ...blobFields,
      ...fields,
    ];
  };

  /** Outputs of a change that the update script cannot write (blobs outside Redis) go first. */
  const outputsFirst = async (id: string, change: TaskChange) => {
    if (change.blobs && !blobStore.inlineFields) await blobStore.putOutputs(id, change.blobs);
  };

  const toResult = (res: UpdateReply | null): UpdateResult | null =>
    res ? { applied: res[0] === 1, status: res[1] as TaskStatus } : null;

  // The BullMQ queue's client carries its Lua commands, so its MULTI can hold the job add.
  const multiFor = async (p: Placement) => {
    const client = (await queues.get(p).client) as unknown as { multi(): Multi };
    return client.multi();
  };

  /**
   * BullMQ's own `Job.addJob` of the task's job (id = task id) on `client`: it builds, packs and
   * issues the add synchronously (into a MULTI, or to a capturing client); its promise is left to
   * settle with whatever the client does.
   */
  function addJobOn(client: unknown, queue: ReturnType<Queues['get']>, taskId: string, job: JobSpec, options: JobsOptions = job.options) {
    const j = new Job(queue, job.name, job.data, { ...options, jobId: taskId }, taskId);
    void (j.addJob(client as never) as Promise<unknown>).catch(() => undefined);
  }

  function stageJob(m: Multi, p: Placement, taskId: string, job: JobSpec) {
    const queue = queues.get(p);
    // The trace context travels in the job, so the worker's spans join the request's trace.
    const add = (metadata?: string) => addJobOn(m, queue, taskId, job, metadata ? { ...job.options, telemetry: { metadata } } : job.options);
    if (!queue.opts.telemetry) return add();
    // BullMQ's producer span, as Queue.add makes it; its callback runs synchronously, so the add
    // still lands in this MULTI.
    void queue.trace(SpanKind.PRODUCER, 'add', queue.name, (_span, metadata) => add(metadata)).catch(() => undefined);
  }

  /**
   * The keys and arguments BullMQ's own `Job.addJob` builds for the job (captured, not sent), for
   * create.lua to run its addStandardJob script with; null when the job is not a standard add
   * (delayed, prioritized) or the queue traces (its producer span wraps a real add).
   */
  function standardJobCall(p: Placement, taskId: string, job: JobSpec): (string | Buffer)[] | null {
    const queue = queues.get(p);
    if (queue.opts.telemetry) return null;
    let call: { name: string; args: (string | Buffer)[] } | null = null;
    const capture = {
      runCommand(name: string, args: (string | Buffer)[]) {
        call = { name, args };
        return Promise.resolve(taskId);
      },
    };
    addJobOn(capture, queue, taskId, job);
    const got = call as { name: string; args: (string | Buffer)[] } | null;
    return got && got.name.startsWith('addStandardJob:') && got.args.length === 12 ? got.args : null;
  }

  /**
   * Adds a finished task to the metrics: its kind, outcome and time since creation (`kind` and
   * `createdAt` as stored, JSON, as the update script returns them).
   */
  function countFinished(metrics: MetricsRecorder, kind: string | null | undefined, createdAt: string | null | undefined, status: TaskStatus) {
    if (!kind) return;
    const labels = [JSON.parse(kind) as string, status];
    metrics.inc('tasksFinished', labels);
    const created = createdAt ? Number(JSON.parse(createdAt)) : NaN;
    if (Number.isFinite(created)) metrics.observe('taskDuration', labels, Math.max(Date.now() - created, 0) / 1000);
  }

  async function getMany(ids: string[]): Promise<Task[]> {
    const valid = ids.map((id) => ({ id, p: place(id) })).filter((x): x is { id: string; p: Placement } => x.p !== null);
    if (valid.length === 0) return [];
    return storeCall(async () => {
      const results = await Promise.all(valid.map(({ id, p }) => redis.hgetall(ks(p).task(id))));
      return results.map((hash, i) => decode(hash, valid[i]!.id)).filter((t): t is Task => t !== null);
    });
  }

  const firstEntry = (task: Task) => JSON.stringify([`${task.created_at}-0`, task.status, 1, '', '']);

  /** The usual creation: one create.lua call (see there) — one round trip, BullMQ's add included. */
  async function createInScript(task: Task, p: Placement, opts: CreateOptions, jobArgs: (string | Buffer)[] | undefined): Promise<CreateResult> {
    const k = ks(p);
    let blobKey = k.blobs(task.id);
    const blobPairs: (string | Buffer)[] = [];
    if (opts.blobs) {
      await blobStore.putInputs(task.id, opts.blobs, {
        hset(key, fields) {
          blobKey = key;
          for (const [f, v] of Object.entries(fields)) blobPairs.push(f, v);
        },
      });
    }
    const taskPairs = Object.entries(encodeNew(task)).flat();
    const alias = opts.aliases?.[0];
    const filler = k.task(task.id);
    const jobKeys = jobArgs ? [...jobArgs.slice(0, 9), queues.get(p).keys.prioritized ?? filler] : Array<string>(10).fill(filler);
    const [code, waiting] = await redis.relayqTaskCreate(
      k.task(task.id), k.tenantTasks(task.tenant), k.tenantActive(task.tenant), k.events(task.id), blobKey, alias?.key ?? filler, ...(jobKeys as string[]),
      alias ? 1 : 0, taskPairs.length, blobPairs.length, jobArgs ? 1 : 0, task.created_at, task.id, firstEntry(task),
      ...taskPairs, ...blobPairs, ...(alias ? [alias.ttlSeconds] : []), ...(jobArgs ? jobArgs.slice(9) : []),
    );
    if (code < 0) throw new Error(`BullMQ refused the job of task ${task.id} (code ${code})`);
    return { ahead: jobArgs ? Math.max(0, waiting - 1) : null };
  }

  /** Creation as a MULTI on BullMQ's connection (its Job.addJob queued into it): traced or non-standard jobs. */
  async function createInMulti(task: Task, p: Placement, opts: CreateOptions): Promise<CreateResult> {
    const k = ks(p);
    const m = await multiFor(p);
    m.hset(k.task(task.id), encodeNew(task));
    if (opts.blobs) await blobStore.putInputs(task.id, opts.blobs, m);
    m.zadd(k.tenantTasks(task.tenant), task.created_at, task.id);
    m.zadd(k.tenantActive(task.tenant), task.created_at, task.id);
    m.rpush(k.events(task.id), firstEntry(task));
    for (const a of opts.aliases ?? []) m.set(a.key, task.id, 'EX', a.ttlSeconds);
    if (!opts.job) {
      execOk(await m.exec());
      return { ahead: null };
    }
    stageJob(m, p, task.id, opts.job);
    const { wait = '', prioritized = '', paused = '' } = queues.get(p).keys;
    m.llen(wait).zcard(prioritized).llen(paused);
    const results = execOk(await m.exec());
    const waiting = results.slice(-3).reduce((sum: number, n) => sum + Number(n), 0);
    return { ahead: Math.max(0, waiting - 1) };
  }

  return {
    async create(task, opts = {}) {
      const p = place(task.id);
      if (!p) throw new Error(`not a task id: ${task.id}`);
      const aliases = opts.aliases ?? [];
      const jobArgs = opts.job ? standardJobCall(p, task.id, opts.job) : undefined;
      const created = await storeCall(() => (jobArgs === null || aliases.length > 1 ? createInMulti(task, p, opts) : createInScript(task, p, opts, jobArgs)));
      deps.metrics?.inc('tasksSubmitted', [task.kind]);
      return created;
    },

    async get(id) {
      const p = place(id);
      if (!p) return null;
      return storeCall(async () => decode(await redis.hgetall(ks(p).task(id)), id));
    },

    async status(id) {
      const p = place(id);
      if (!p) return null;
      const raw = await storeCall(() => redis.hget(ks(p).task(id), 'status'));
      return raw ? (JSON.parse(raw) as TaskStatus) : null;
    },

    getMany,

    async update(task, change) {
      const p = place(task.id);
      if (!p) return null;
      await outputsFirst(task.id, change);
      const raw = await storeCall(() => redis.relayqTaskUpdate(...updateArgs(task, p, change)));
      const res = toResult(raw);
      if (res?.applied && isTerminal(res.status)) {
        await blobStore.finished(task.id, config.TASK_RETENTION_SECONDS);
        // Counting never fails or delays the update.
        if (deps.metrics) {
          try {
            countFinished(deps.metrics, raw?.[2], raw?.[3], res.status);
          } catch {
            // a malformed stored value: not counted
          }
        }
      }
      return res;
    },

    async updateAndEnqueue(task, change, opts) {
      const p = place(task.id);
      if (!p) return null;
      await outputsFirst(task.id, change);
      return storeCall(async () => {
        const m = await multiFor(p);
        if (opts.blobs) await blobStore.putInputs(task.id, opts.blobs, m);
        // The update's place among the results, whatever the blob store queued before it
        // (a MULTI's queue starts with the MULTI command itself, which has no result).
        const at = m.length - 1;
        m.relayqTaskUpdate(...updateArgs(task, p, change));
        stageJob(m, p, task.id, opts.job);
        const { wait = '', prioritized = '', paused = '' } = queues.get(p).keys;
        m.llen(wait).zcard(prioritized).llen(paused);
        const results = execOk(await m.exec());
        const res = toResult(results[at] as UpdateReply | null);
        return res && { ...res, ahead: Math.max(0, results.slice(-3).reduce((sum: number, n) => sum + Number(n), 0) - 1) };
      });
    },

    async annotate(id, patch) {
      const p = place(id);
      if (!p) return false;
      const fields = Object.entries(encode(patch, storageOf(familyOfQueue(p.queue)))).flat();
      if (fields.length === 0) return false;
      return storeCall(async () => (await redis.relayqTaskAnnotate(ks(p).task(id), ...fields)) === 1);
    },

    putBlobs: (id, blobs) => blobStore.putOutputs(id, blobs),
    putBlobStream: (id, name, type, source, maxBytes) => blobStore.putStream(id, name, type, source, maxBytes),
    openBlob: (id, name, range) => blobStore.open(id, name, range),
    statBlob: (id, name) => blobStore.stat(id, name),

    async events(id, afterId, opts = {}) {
      const p = place(id);
      if (!p) return [];
      const after = afterId === '0' ? null : parseEventId(afterId);
      return storeCall(async () => {
        // The whole log while it lasts, then the history folded at the end.
        let raw = await redis.lrange(ks(p).events(id), 0, -1);
        if (raw.length === 0) raw = await redis.lrange(ks(p).history(id), 0, -1);
        const out: TaskEvent[] = [];
        for (const line of raw) {
          const [eid, s, c, k, g, t] = JSON.parse(line) as [string, TaskStatus, number, string, string, string[] | undefined];
          const at = parseEventId(eid);
          if (after && (opts.inclusive ? compareEventIds(at, after) < 0 : compareEventIds(at, after) <= 0)) continue;
          out.push({ id: eid, status: s, changed: c === 1, fields: k ? k.split(',') : [], progress: g ? Number(g) : null, snapshot: t ? decodePairs(t, id) : null });
          if (out.length === 1000) break;
        }
        return out;
      });
    },

    async idleAfter(id, eventId) {
      const p = place(id);
      if (!p) return true;
      const k = ks(p);
      return storeCall(async () => (await redis.relayqWebhookIdle(k.events(id), k.webhookDue, k.history(id), eventId, id)) === 1);
    },

    async listByTenant(tenant, queues, limit, before) {
      return storeCall(async () => {
        const all = queues.flatMap((q) => placements(q, config.QUEUE_SHARDS));
        // limit + 1 per shard tells whether anything older remains after this page; after a
        // cursor, a margin covers tasks created in its same millisecond (filtered below).
        const lists = await Promise.all(
          all.map((p) => redis.zrevrangebyscore(ks(p).tenantTasks(tenant), before ? before.created_at : '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 1 + (before ? 50 : 0))),
        );
        const entries: { id: string; score: number }[] = [];
        for (const flat of lists) for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ id: flat[i]!, score: Number(flat[i + 1]) });
        const newest = entries
          .filter((e) => !before || e.score < before.created_at || (e.score === before.created_at && e.id < before.id))
          .sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1));
        const ids = newest.slice(0, limit).map((e) => e.id);
        const tasks = await getMany(ids);
        await pruneExpired(ids, tasks, (p) => ks(p).tenantTasks(tenant));
        return { tasks, more: newest.length > limit };
      });
    },

    async activeByTenant(tenant, queue) {
      return storeCall(async () => {
        const perShard = await Promise.all(
          placements(queue, config.QUEUE_SHARDS).map((p) => redis.zrange(ks(p).tenantActive(tenant), 0, 999)),
        );
        return getMany(perShard.flat());
      });
    },

    blobs: (id) => blobStore.get(id),
  };

  // Index entries of tasks whose records expired are removed as they are found.
  async function pruneExpired(ids: string[], found: Task[], keyOf: (p: Placement) => string) {
    const alive = new Set(found.map((t) => t.id));
    const byKey = new Map<string, string[]>();
    for (const id of ids) {
      const p = place(id);
      if (!p || alive.has(id)) continue;
      const key = keyOf(p);
      byKey.set(key, [...(byKey.get(key) ?? []), id]);
    }
    await Promise.all([...byKey].map(([key, dead]) => redis.zrem(key, ...dead)));
  }
}

/** The part of an ioredis MULTI the store uses (BullMQ's augmented transaction). */
interface Multi {
  /** Commands queued so far, MULTI included. */
  readonly length: number;
  hset(key: string, fields: Record<string, string | Buffer>): Multi;
  rpush(key: string, value: string): Multi;
  llen(key: string): Multi;
  zcard(key: string): Multi;
  zadd(key: string, score: number, member: string): Multi;
  set(key: string, value: string, ex: 'EX', seconds: number): Multi;
  relayqTaskUpdate(...args: (string | number | Buffer)[]): Multi;
  exec(): Promise<[Error | null, unknown][] | null>;
}
