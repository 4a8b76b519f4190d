import { storeCall } from './errors.js';
import { parseTaskId } from './ids.js';
import { keyspace } from './keys.js';
import type { RedisClient } from './redis.js';

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

/**
 * Where task blobs live, shared by all nodes, never in job data. Inputs are written with the task
 * (`tx` is its creation transaction, so a store in the same Redis makes them all-or-nothing; an
 * object store writes before and lets unreferenced objects age out); outputs are added later;
 * `finished` starts the retention clock, because blobs expire with their task and never before.
 */
export interface BlobStore {
  putInputs(taskId: string, blobs: Blobs, tx: BlobTx): Promise<void>;
  putOutputs(taskId: string, blobs: Blobs): Promise<boolean>;
  get(taskId: string): Promise<Blobs>;
  finished(taskId: string, ttlSeconds: number): Promise<void>;
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
  };
}
