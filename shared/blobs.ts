import { Readable } from 'node:stream';
import type { Config } from './config.js';
import { storeCall } from './errors.js';
import { StartupError } from './process.js';
import { parseTaskId } from './ids.js';
import { keyspace } from './keys.js';
import type { RedisClient } from './redis.js';
import type { Logger } from './logger.js';

/** A binary input or output of a task. */
export interface Blob {
  type: string;
  data: Buffer;
  /** The uploaded file name, for multipart uploads. */
  filename?: string;
}

/** A task's blobs by name (`image0`, `mask`, `request`, `response`, `file.<field>`, …). */
export type Blobs = Record<string, Blob>;

/** The part of a Redis transaction a blob store may write into. */
export interface BlobTx {
  hset(key: string, fields: Record<string, string | Buffer>): unknown;
}

/** What is known of one stored blob without reading it. */
export interface BlobInfo {
  type: string;
  filename?: string;
  /** Bytes, when the store knows it without reading the blob. */
  size?: number;
}

/** One blob opened for reading, piece by piece (large outputs are never read whole). */
export interface BlobReader extends BlobInfo {
  body: Readable;
}

/** Bytes `start` to `end` of a blob, both included (an HTTP `Range`), within its size. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A blob (an archive download) went over its size limit while being written; nothing was kept. */
export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
  }
}

/**
 * Where task blobs live, shared by all nodes, never in job data. Inputs are written with the task
 * (`tx` is its creation transaction, so a store in the same Redis makes them all-or-nothing; an
 * object store writes before and deletes what no task references later); outputs are added
 * later; `finished` starts the retention clock, because blobs expire with their task and never
 * before.
 */
export interface BlobStore {
  putInputs(taskId: string, blobs: Blobs, tx: BlobTx): Promise<void>;
  /** Adds output blobs; false (nothing kept) when the task is gone. */
  putOutputs(taskId: string, blobs: Blobs): Promise<boolean>;
  /**
   * Writes one output blob from a stream of unknown length, holding only a bounded part of it in
   * memory where the store allows. Resolves to its size in bytes, or null when the task is gone.
   * @throws BlobTooLargeError past `maxBytes` (nothing is kept); the source's own errors.
   */
  putStream(taskId: string, name: string, type: string, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<number | null>;
  /** Every blob of the task, whole (inputs for an upstream call); {} for an unknown task. */
  get(taskId: string): Promise<Blobs>;
  /**
   * One blob as a stream (serving outputs), or only `range` of it; null when the task or the blob
   * does not exist. `size` is the whole blob's.
   */
  open(taskId: string, name: string, range?: ByteRange): Promise<BlobReader | null>;
  /** What is known of one blob (its size included) without reading it; null when there is none. */
  stat(taskId: string, name: string): Promise<(BlobInfo & { size: number }) | null>;
  finished(taskId: string, ttlSeconds: number): Promise<void>;
  /**
   * For stores that keep a task's blobs in its own Redis hash (`blobs(<task id>)` of the task's
   * keyspace): the hash fields of these outputs, so the task update script writes them in the
   * same step as the change they come with. Absent for other stores (they write outputs first).
   */
  inlineFields?(blobs: Blobs): Record<string, string | Buffer>;
  /** Checks at start that the store answers. @throws an Error whose message is one line to print. */
  check?(): Promise<void>;
  /**
   * Deletes the stored objects of tasks that no longer exist (run by one worker at a time);
   * resolves to how many tasks it cleaned. Absent for stores whose blobs expire by themselves.
   */
  sweep?(now?: number): Promise<number>;
  close?(): Promise<void>;
}

/** Reads a stream whole, refusing it past `maxBytes`. */
export async function readCapped(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * The default store: one Redis hash per task, under the task's hash tag. The task update script
 * expires it together with the task, so `finished` has nothing left to do.
 */
export function createRedisBlobStore(deps: { redis: RedisClient; prefix: string }): BlobStore {
  const keyOf = (taskId: string) => {
    const p = parseTaskId(taskId);
    if (!p) throw new Error(`not a task id: ${taskId}`);
    return keyspace(deps.prefix, p).blobs(taskId);
  };
  const fieldsOf = (blobs: Blobs) => {
    const fields: Record<string, string | Buffer> = {};
    for (const [name, b] of Object.entries(blobs)) {
      fields[name] = b.data;
      fields[`${name}:type`] = b.type;
      if (b.filename) fields[`${name}:filename`] = b.filename;
    }
    return fields;
  };

  return {
    async putInputs(taskId, blobs, tx) {
      if (Object.keys(blobs).length > 0) tx.hset(keyOf(taskId), fieldsOf(blobs));
    },

    async putOutputs(taskId, blobs) {
      const p = parseTaskId(taskId);
      if (!p) return false;
      const taskKey = keyspace(deps.prefix, p).task(taskId);
      // Never onto a task that is gone: the hash would have no TTL.
      return storeCall(async () => {
        if (!(await deps.redis.exists(taskKey))) return false;
        await deps.redis.hset(keyOf(taskId), fieldsOf(blobs));
        return true;
      });
    },

    async putStream(taskId, name, type, source, maxBytes) {
      const data = await readCapped(source, maxBytes);
      return (await this.putOutputs(taskId, { [name]: { type, data } })) ? data.length : null;
    },

    async open(taskId, name, range) {
      if (!parseTaskId(taskId) || name.includes(':')) return null;
      return storeCall(async () => {
        const [data, type, filename] = await deps.redis.hmgetBuffer(keyOf(taskId), name, `${name}:type`, `${name}:filename`);
        if (!data) return null;
        const part = range ? data.subarray(range.start, range.end + 1) : data;
        return { type: type?.toString() ?? 'application/octet-stream', ...(filename ? { filename: filename.toString() } : {}), size: data.length, body: Readable.from([part]) };
      });
    },

    async stat(taskId, name) {
      if (!parseTaskId(taskId) || name.includes(':')) return null;
      return storeCall(async () => {
        const key = keyOf(taskId);
        const [[, size], [, meta]] = (await deps.redis.multi().hstrlen(key, name).hmget(key, `${name}:type`, `${name}:filename`).exec()) as [[null, number], [null, (string | null)[]]];
        const [type, filename] = meta;
        if (!type) return null;
        return { type, ...(filename ? { filename } : {}), size };
      });
    },

    async get(taskId) {
      if (!parseTaskId(taskId)) return {};
      return storeCall(async () => {
        const hash = await deps.redis.hgetallBuffer(keyOf(taskId));
        const out: Blobs = {};
        for (const [field, value] of Object.entries(hash)) {
          if (field.includes(':')) continue;
          const filename = hash[`${field}:filename`]?.toString();
          out[field] = { data: value, type: hash[`${field}:type`]?.toString() ?? 'application/octet-stream', ...(filename ? { filename } : {}) };
        }
        return out;
      });
    },

    async finished() {
      // Done by the task update script in the same transaction as the task's own expiry.
    },

    inlineFields: fieldsOf,
  };
}

/**
 * The blob store the configuration names (BLOB_STORE): Redis, or an S3-compatible bucket (its
 * SDK is loaded only then). Call `check` before relying on it.
 */
export async function openBlobStore(deps: { redis: RedisClient; config: Config }): Promise<BlobStore> {
  if (deps.config.BLOB_STORE === 's3') {
    const { createS3BlobStore, s3ClientOf } = await import('./blobs-s3.js');
    return createS3BlobStore({ redis: deps.redis, config: deps.config, s3: s3ClientOf(deps.config) });
  }
  return createRedisBlobStore({ redis: deps.redis, prefix: deps.config.QUEUE_PREFIX });
}

/**
 * The S3 settings a configuration gives that have no effect because BLOB_STORE is `redis` (a
 * forgotten `BLOB_STORE=s3`): their names, [] when none.
 */
export function ignoredS3Settings(config: Pick<Config, 'BLOB_STORE' | 'S3_BUCKET' | 'S3_ENDPOINT' | 'S3_ACCESS_KEY_ID' | 'S3_KEY_PREFIX'>): string[] {
  if (config.BLOB_STORE !== 'redis') return [];
  const set = { S3_BUCKET: config.S3_BUCKET, S3_ENDPOINT: config.S3_ENDPOINT, S3_ACCESS_KEY_ID: config.S3_ACCESS_KEY_ID, S3_KEY_PREFIX: config.S3_KEY_PREFIX };
  return Object.entries(set)
    .filter(([, v]) => Boolean(v))
    .map(([k]) => k);
}

/**
 * The configured blob store, checked (an S3 bucket that does not answer stops the start with one
 * line naming the setting to fix).
 * @throws StartupError when the store does not answer.
 */
export async function openCheckedBlobStore(deps: { redis: RedisClient; config: Config; log?: Pick<Logger, 'warn'> }): Promise<BlobStore> {
  const ignored = ignoredS3Settings(deps.config);
  if (ignored.length > 0) deps.log?.warn({ ignored }, `${ignored.join(', ')} set but BLOB_STORE=redis: blobs stay in Redis and the bucket is not used; set BLOB_STORE=s3 to use it`);
  const store = await openBlobStore(deps);
  try {
    await store.check?.();
  } catch (err) {
    await store.close?.();
    throw new StartupError((err as Error).message);
  }
  return store;
}
