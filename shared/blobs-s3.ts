import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Blobs, BlobStore, BlobTx } from './blobs.js';
import { BlobTooLargeError } from './blobs.js';
import type { Config } from './config.js';
import { StoreUnavailableError, storeCall } from './errors.js';
import { parseTaskId } from './ids.js';
import { globalKeys, keyspace } from './keys.js';
import type { RedisClient } from './redis.js';

/** Parts of a streamed upload (S3's smallest part is 5 MiB): the most held in memory per upload. */
const PART_BYTES = 8 * 1024 * 1024;
/** A task's objects are first checked this long after they are written (its creation may still be under way). */
const ORPHAN_GRACE_MS = 5 * 60_000;
/** An unfinished task's objects are checked again this often. */
const RECHECK_MS = 60 * 60_000;

/** The S3 client of the configuration. Credentials are handed to the SDK and never logged. */
export function s3ClientOf(config: Pick<Config, 'S3_ENDPOINT' | 'S3_REGION' | 'S3_FORCE_PATH_STYLE' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY'>): S3Client {
  return new S3Client({
    region: config.S3_REGION,
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    ...(config.S3_ACCESS_KEY_ID ? { credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } } : {}),
    // Checksums only where S3 requires them: MinIO, s3rver and other S3-compatible servers refuse
    // or mangle the SDK's default trailing CRC checksums on uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // An endpoint that takes the connection and then says nothing must not hold a request (and
    // its socket) for ever: 5 s to connect, 60 s of silence on a request.
    requestHandler: { connectionTimeout: 5000, requestTimeout: 60_000 },
  });
}

/** How long (ms) the bucket check waits for an answer. */
const CHECK_TIMEOUT_MS = 5000;

/** The HTTP status of an SDK error, when the server answered. */
const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/**
 * Blobs in an S3-compatible bucket. Redis keeps, in the task's blob hash (which expires with the
 * task), each blob's type, file name, size and object key; blobs of at most BLOB_INLINE_MAX_BYTES
 * stay inline there (small JSON bodies are not worth a round trip). Objects are named
 * `<S3_KEY_PREFIX or QUEUE_PREFIX>/<task id>/<blob name>`.
 *
 * Retention: before any object of a task is written, the task is entered in the blob-sweep zset
 * (due after a grace period); when it finishes, it becomes due when its retention ends. The
 * sweep (one worker at a time) deletes the objects of due tasks that no longer exist, and puts
 * those still alive back with their remaining time, so objects of a task whose creation failed,
 * or that expired, are deleted; none outlive their task by more than a sweep interval.
 */
export function createS3BlobStore(deps: { redis: RedisClient; config: Pick<Config, 'QUEUE_PREFIX' | 'S3_BUCKET' | 'S3_KEY_PREFIX' | 'S3_ENDPOINT' | 'BLOB_INLINE_MAX_BYTES'>; s3: S3Client }): BlobStore {
  const { redis, s3, config } = deps;
  const Bucket = config.S3_BUCKET ?? '';
  const root = (config.S3_KEY_PREFIX || config.QUEUE_PREFIX).replace(/\/+$/, '');
  const sweepKey = globalKeys(config.QUEUE_PREFIX).blobSweep;
  const objectKey = (taskId: string, name: string) => `${root}/${taskId}/${encodeURIComponent(name)}`;
  const hashOf = (taskId: string) => {
    const p = parseTaskId(taskId);
    if (!p) throw new Error(`not a task id: ${taskId}`);
    return keyspace(config.QUEUE_PREFIX, p).blobs(taskId);
  };
  const taskKeyOf = (taskId: string) => keyspace(config.QUEUE_PREFIX, parseTaskId(taskId)!).task(taskId);
  const where = () => `S3 bucket ${Bucket}${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ''}`;
  // Entered before its first object is written, so no object exists that the sweep does not know of.
  const schedule = (taskId: string) => redis.zadd(sweepKey, 'NX', Date.now() + ORPHAN_GRACE_MS, taskId);

  const meta = (name: string, info: { type: string; filename?: string; size: number }) => ({
    [`${name}:type`]: info.type,
    [`${name}:size`]: String(info.size),
    ...(info.filename ? { [`${name}:filename`]: info.filename } : {}),
  });

  /** The hash fields of blobs: small ones inline, the others uploaded first and referenced. */
  async function fieldsOf(taskId: string, blobs: Blobs): Promise<Record<string, string | Buffer>> {
    const fields: Record<string, string | Buffer> = {};
    const big = Object.entries(blobs).filter(([, b]) => b.data.length > config.BLOB_INLINE_MAX_BYTES);
    if (big.length > 0) await schedule(taskId);
    await Promise.all(
      big.map(async ([name, b]) => {
        const Key = objectKey(taskId, name);
        await s3.send(new PutObjectCommand({ Bucket, Key, Body: b.data, ContentType: b.type, ContentLength: b.data.length }));
        fields[`${name}:ref`] = Key;
      }),
    );
    for (const [name, b] of Object.entries(blobs)) {
      if (b.data.length <= config.BLOB_INLINE_MAX_BYTES) fields[name] = b.data;
      Object.assign(fields, meta(name, { type: b.type, filename: b.filename, size: b.data.length }));
    }
    return fields;
  }

  /** Uploads a stream: one PUT when it fits in a part, else a multipart upload, part by part. */
  async function upload(Key: string, ContentType: string, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<number> {
    let chunks: Buffer[] = [];
    let pending = 0;
    let total = 0;
    let UploadId: string | undefined;
    const parts: { ETag: string | undefined; PartNumber: number }[] = [];
    const flush = async () => {
      UploadId ??= (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType }))).UploadId;
      const PartNumber = parts.length + 1;
      const body = Buffer.concat(chunks);
      chunks = [];
      pending = 0;
      const res = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: body, ContentLength: body.length }));
      parts.push({ ETag: res.ETag, PartNumber });
    };
    try {
      for await (const chunk of source) {
        total += chunk.length;
        if (total > maxBytes) throw new BlobTooLargeError(maxBytes);
        chunks.push(Buffer.from(chunk));
        pending += chunk.length;
        if (pending >= PART_BYTES) await flush();
      }
      if (!UploadId) {
        const body = Buffer.concat(chunks);
        await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentType, ContentLength: body.length }));
        return total;
      }
      if (pending > 0) await flush();
      await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
      return total;
    } catch (err) {
      if (UploadId) await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  /** Deletes every object of a task (few: one per blob). */
  async function removeObjects(taskId: string): Promise<void> {
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${root}/${taskId}/`, ContinuationToken }));
      // One DELETE per object: DeleteObjects needs a Content-MD5 that not every S3-compatible server checks the same way.
      await Promise.all((page.Contents ?? []).flatMap((o) => (o.Key ? [s3.send(new DeleteObjectCommand({ Bucket, Key: o.Key }))] : [])));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** Writes hash fields only onto a task that exists (a blob hash must never outlive its task). */
  async function attach(taskId: string, fields: Record<string, string | Buffer>): Promise<boolean> {
    return storeCall(async () => {
      if (!(await redis.exists(taskKeyOf(taskId)))) return false;
      await redis.hset(hashOf(taskId), fields);
      return true;
    });
  }

  async function readAll(body: unknown): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }

  return {
    async putInputs(taskId, blobs, tx: BlobTx) {
      if (Object.keys(blobs).length > 0) tx.hset(hashOf(taskId), await fieldsOf(taskId, blobs));
    },

    async putOutputs(taskId, blobs) {
      if (!parseTaskId(taskId)) return false;
      if (!(await redis.exists(taskKeyOf(taskId)))) return false;
      return attach(taskId, await fieldsOf(taskId, blobs));
    },

    async putStream(taskId, name, type, source, maxBytes) {
      if (!parseTaskId(taskId)) return null;
      await schedule(taskId);
      const Key = objectKey(taskId, name);
      const size = await upload(Key, type, source, maxBytes);
      return (await attach(taskId, { [`${name}:ref`]: Key, ...meta(name, { type, size }) })) ? size : null;
    },

    async get(taskId) {
      if (!parseTaskId(taskId)) return {};
      // Any failure (Redis or the bucket) means the inputs cannot be read now: retry later.
      return storeCall(async () => {
        const hash = await redis.hgetallBuffer(hashOf(taskId));
        const out: Blobs = {};
        await Promise.all(
          Object.keys(hash)
            .filter((f) => f.endsWith(':type'))
            .map(async (f) => {
              const name = f.slice(0, -':type'.length);
              const ref = hash[`${name}:ref`]?.toString();
              const data = ref ? await readAll((await s3.send(new GetObjectCommand({ Bucket, Key: ref }))).Body) : hash[name];
              if (!data) return;
              const filename = hash[`${name}:filename`]?.toString();
              out[name] = { type: hash[f]!.toString(), data, ...(filename ? { filename } : {}) };
            }),
        );
        return out;
      });
    },

    async open(taskId, name, range) {
      if (!parseTaskId(taskId) || name.includes(':')) return null;
      const key = hashOf(taskId);
      const [type, filename, ref, size] = await storeCall(() => redis.hmget(key, `${name}:type`, `${name}:filename`, `${name}:ref`, `${name}:size`));
      if (!type) return null;
      const info = { type, ...(filename ? { filename } : {}), ...(size ? { size: Number(size) } : {}) };
      if (ref) {
        try {
          const res = await s3.send(new GetObjectCommand({ Bucket, Key: ref, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
          return { ...info, size: info.size ?? res.ContentLength, body: res.Body as Readable };
        } catch (err) {
          // Deleted by the sweep a moment after the task expired.
          if (statusOf(err) === 404) return null;
          throw new StoreUnavailableError(err);
        }
      }
      const data = await storeCall(() => redis.hgetBuffer(key, name));
      if (!data) return null;
      return { ...info, size: data.length, body: Readable.from([range ? data.subarray(range.start, range.end + 1) : data]) };
    },

    async stat(taskId, name) {
      if (!parseTaskId(taskId) || name.includes(':')) return null;
      const key = hashOf(taskId);
      const [type, filename, size] = await storeCall(() => redis.hmget(key, `${name}:type`, `${name}:filename`, `${name}:size`));
      if (!type) return null;
      // Blobs written by the Redis store before BLOB_STORE=s3 have no size field: their length is it.
      const bytes = size ? Number(size) : await storeCall(() => redis.hstrlen(key, name));
      return { type, ...(filename ? { filename } : {}), size: bytes };
    },

    async finished(taskId, ttlSeconds) {
      // Only tasks with objects are in the zset: XX leaves the others out.
      await redis.zadd(sweepKey, 'XX', Date.now() + ttlSeconds * 1000 + 1000, taskId);
    },

    async check() {
      try {
        // A check answers within seconds, whatever the endpoint does (start-up, readiness probes).
        await s3.send(new HeadBucketCommand({ Bucket }), { abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
      } catch (err) {
        const status = statusOf(err);
        const reason =
          status === 404
            ? 'does not exist (create it, or set S3_BUCKET)'
            : status === 403 || status === 401
              ? 'refused the credentials (check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY)'
              : status
                ? `answered HTTP ${status}`
                : `did not answer (${(err as { code?: string }).code ?? (err as Error).name}: check S3_ENDPOINT)`;
        throw new Error(`${where()} ${reason}`, { cause: err });
      }
    },

    async sweep(now = Date.now()) {
      const due = await redis.zrangebyscore(sweepKey, '-inf', now, 'LIMIT', 0, 100);
      let cleaned = 0;
      for (const taskId of due) {
        const ttl = parseTaskId(taskId) ? await redis.pttl(taskKeyOf(taskId)) : -2;
        if (ttl === -2) {
          await removeObjects(taskId);
          await redis.zrem(sweepKey, taskId);
          cleaned++;
        } else {
          // Alive: due again when its retention ends, or (unfinished) after a while.
          await redis.zadd(sweepKey, now + (ttl > 0 ? ttl + 1000 : RECHECK_MS), taskId);
        }
      }
      return cleaned;
    },

    async close() {
      s3.destroy();
    },
  };
}
