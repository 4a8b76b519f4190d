import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { BlobTooLargeError, openCheckedBlobStore, type BlobStore } from '../../shared/blobs.js';
import { s3ClientOf } from '../../shared/blobs-s3.js';
import { loadConfig, type Config, type ConfigError } from '../../shared/config.js';
import { newTaskId } from '../../shared/ids.js';
import { globalKeys } from '../../shared/keys.js';
import { StartupError } from '../../shared/process.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { newMjRequest, newMjTask } from '../../shared/families/mj/task.js';
import { createTaskStore, type TaskStore } from '../../shared/tasks/store.js';
import { startApi } from '../../api/main.js';
import { createLogger } from '../../shared/logger.js';
import { startWorker } from '../../worker/main.js';
import { startS3, type LocalS3 } from '../support/s3.js';

describe('S3 blob store (against a real S3-compatible server)', () => {
  let s3: LocalS3;
  let client: S3Client;
  let redis: Redis;
  let queues: Queues;
  let blobs: BlobStore;
  let store: TaskStore;
  let config: Config;
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const make = () => newMjTask({ id: newTaskId({ queue: 'mj', shard: 0 }), kind: 'mj.imagine', tenant: 'acme', mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '/imagine p' }) });
  const big = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251));
  const objects = async (taskId: string) =>
    ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/${taskId}/` }))).Contents ?? []).map((o) => o.Key);
  const readAll = async (body: AsyncIterable<Uint8Array>) => {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  };

  beforeAll(async () => {
    s3 = await startS3();
    config = loadConfig({ QUEUE_PREFIX: prefix, TASK_RETENTION_SECONDS: '60', BLOB_INLINE_MAX_BYTES: '1024', ...s3.env });
    client = s3ClientOf(config);
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    queues = createQueues({ redis, prefix, shards: 1 });
    blobs = await openCheckedBlobStore({ redis, config });
    store = createTaskStore({ redis, queues, config, blobs });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await queues.close();
    await blobs.close?.();
    client.destroy();
    redis.disconnect();
    await s3.close();
  });

  it('keeps a large input in the bucket and only a reference in Redis; small ones stay inline', async () => {
    const t = make();
    const upload = { type: 'image/png', data: big(300_000), filename: 'cat.png' };
    const small = { type: 'application/json', data: Buffer.from('{"a":1}') };
    await store.create(t, { blobs: { image0: upload, request: small } });
    const hash = await redis.hgetallBuffer(`${prefix}:{mj}:blobs:${t.id}`);
    expect(hash.image0).toBeUndefined();
    expect(hash['image0:ref']?.toString()).toBe(`${prefix}/${t.id}/image0`);
    expect(hash.request?.toString()).toBe('{"a":1}');
    expect(await objects(t.id)).toEqual([`${prefix}/${t.id}/image0`]);
    const stored = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${t.id}/image0` }));
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(upload.data)).toBe(true);
    expect(await store.blobs(t.id)).toEqual({ image0: upload, request: small });
  });

  it('streams a stored output back piece by piece, with its type and size', async () => {
    const t = make();
    await store.create(t);
    const audio = big(200_000, 7);
    expect(await store.putBlobs(t.id, { response: { type: 'audio/mpeg', data: audio } })).toBe(true);
    const opened = await store.openBlob(t.id, 'response');
    expect(opened).toMatchObject({ type: 'audio/mpeg', size: audio.length });
    expect(opened!.body).toBeInstanceOf(Readable);
    expect((await readAll(opened!.body)).equals(audio)).toBe(true);
    expect(await store.openBlob(t.id, 'missing')).toBeNull();
  });

  it('writes a stream larger than one upload part as a multipart upload, and refuses one over its limit', async () => {
    const t = make();
    await store.create(t);
    const video = big(9 * 1024 * 1024 + 123, 3);
    const pieces = async function* () {
      for (let i = 0; i < video.length; i += 64 * 1024) yield video.subarray(i, i + 64 * 1024);
    };
    expect(await store.putBlobStream(t.id, 'archive.v', 'video/mp4', pieces(), 20 * 1024 * 1024)).toBe(video.length);
    const opened = await store.openBlob(t.id, 'archive.v');
    expect(opened?.type).toBe('video/mp4');
    expect((await readAll(opened!.body)).equals(video)).toBe(true);
    await expect(store.putBlobStream(t.id, 'archive.w', 'video/mp4', pieces(), 1024 * 1024)).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(await store.openBlob(t.id, 'archive.w')).toBeNull();
    expect(await objects(t.id)).toEqual([`${prefix}/${t.id}/archive.v`]);
  });

  it('deletes the objects of a task once it has expired, and keeps those of live tasks', async () => {
    const gone = make();
    const alive = make();
    for (const t of [gone, alive]) {
      await store.create(t, { blobs: { image0: { type: 'image/png', data: big(5000) } } });
      await store.update(t, { status: 'succeeded' });
    }
    const sweepKey = globalKeys(prefix).blobSweep;
    // Due when its retention ends (60 s from now), not before.
    expect(Number(await redis.zscore(sweepKey, gone.id))).toBeGreaterThan(Date.now() + 55_000);
    expect(await blobs.sweep!(Date.now())).toBe(0);
    // The task record expires (as its TTL would make it); the sweep then deletes its objects.
    await redis.del(`${prefix}:{mj}:task:${gone.id}`, `${prefix}:{mj}:blobs:${gone.id}`);
    const later = Date.now() + 61_000 + 1000;
    expect(await blobs.sweep!(later)).toBe(1);
    expect(await objects(gone.id)).toEqual([]);
    expect(await redis.zscore(sweepKey, gone.id)).toBeNull();
    expect(await objects(alive.id)).toHaveLength(1);
    // The live one is due again when its own retention ends.
    expect(Number(await redis.zscore(sweepKey, alive.id))).toBeGreaterThan(later);
  });

  it('deletes objects written for a task whose creation never committed', async () => {
    const t = make();
    const tx = { hset: () => undefined };
    await blobs.putInputs(t.id, { image0: { type: 'image/png', data: big(4000) } }, tx);
    expect(await objects(t.id)).toHaveLength(1);
    await blobs.sweep!(Date.now() + 10 * 60_000);
    expect(await objects(t.id)).toEqual([]);
  });

  it('refuses at start a bucket that does not exist, naming it in one line', async () => {
    const bad = loadConfig({ QUEUE_PREFIX: prefix, ...s3.env, S3_BUCKET: 'no-such-bucket' });
    const err = await openCheckedBlobStore({ redis, config: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toBe(`S3 bucket no-such-bucket at ${s3.endpoint} does not exist (create it, or set S3_BUCKET)`);
  });

  it('stops the API and the worker from starting on a missing bucket, before they take any work', async () => {
    const bad = loadConfig({ REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: prefix, API_KEYS: 'acme:sk-acme-0123456789', PORT: '0', LOG_LEVEL: 'silent', ...s3.env, S3_BUCKET: 'no-such-bucket' });
    const log = createLogger('silent');
    await expect(startApi(bad, log)).rejects.toThrow(new StartupError(`S3 bucket no-such-bucket at ${s3.endpoint} does not exist (create it, or set S3_BUCKET)`));
    await expect(startWorker(bad, log)).rejects.toBeInstanceOf(StartupError);
  });

  it('refuses at start an endpoint that does not answer, without printing the credentials', async () => {
    const bad = loadConfig({ QUEUE_PREFIX: prefix, ...s3.env, S3_ENDPOINT: 'http://127.0.0.1:9' });
    const err = (await openCheckedBlobStore({ redis, config: bad }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(StartupError);
    expect(err.message).toMatch(/^S3 bucket relayq-test at http:\/\/127\.0\.0\.1:9 did not answer \(.*check S3_ENDPOINT\)$/);
    expect(err.message).not.toContain('S3RVER');
  });

  it('refuses a configuration that cannot work, naming the variables', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ BLOB_STORE: 's3' })).toEqual(['S3_BUCKET: is required with BLOB_STORE=s3']);
    expect(problems({ BLOB_STORE: 'minio' })[0]).toMatch(/^BLOB_STORE: /);
    expect(problems({ BLOB_STORE: 's3', S3_BUCKET: 'bkt', S3_ACCESS_KEY_ID: 'x' })[0]).toMatch(/^S3_SECRET_ACCESS_KEY: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together/);
    expect(problems({ ARCHIVE_OUTPUTS: 'true' })).toEqual(['ARCHIVE_OUTPUTS: needs BLOB_STORE=s3 (archived media are too large for Redis)']);
    expect(problems({ BLOB_STORE: 's3', S3_BUCKET: 'Bad_Bucket' })[0]).toMatch(/^S3_BUCKET: must be a bucket name/);
  });
});
