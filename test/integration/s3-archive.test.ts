import { createHash } from 'node:crypto';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCheckedBlobStore, type BlobStore } from '../../shared/blobs.js';
import { s3ClientOf } from '../../shared/blobs-s3.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { createTaskStore } from '../../shared/tasks/store.js';
import { simMediaBytes } from '../../sim/server.js';
import type { SimForm } from '../../sim/openai.js';
import { createArchiver } from '../../worker/archive.js';
import { createLogger } from '../../shared/logger.js';
import { startS3, type LocalS3 } from '../support/s3.js';
import { KEYS, mjUntil, simMj, startStack, waitFor, type Stack } from '../support/stack.js';

describe('S3 blob store and output archiving, end to end', () => {
  let s3: LocalS3;
  let s: Stack;
  let client: S3Client;
  let blobs: BlobStore;
  let queues: Queues;
  const logLines: string[] = [];
  beforeAll(async () => {
    s3 = await startS3();
    // Blobs over 64 bytes go to the bucket (a speech answer of the simulator is about 50 bytes).
    s = await startStack({
      worker: false,
      logLines,
      sim: { sunoDurationMs: 300 },
      env: { ...s3.env, BLOB_INLINE_MAX_BYTES: '40', ARCHIVE_OUTPUTS: 'true', ARCHIVE_ALLOW_PRIVATE: 'true', ARCHIVE_MAX_BYTES: '1048576', MAX_BODY_BYTES: '8388608' },
    });
    // Archived URLs name the API as clients reach it; its port is known only now.
    s.config.PUBLIC_URL = s.api.url;
    await s.startWorker();
    client = s3ClientOf(s.config);
    blobs = await openCheckedBlobStore({ redis: s.redis, config: s.config });
    queues = createQueues({ redis: s.redis, prefix: s.config.QUEUE_PREFIX, shards: 1 });
  });
  afterEach(() => {
    s.sim.setMediaGone(false);
    s.sim.setMediaDelay(0);
  });
  afterAll(async () => {
    await queues.close();
    await blobs.close?.();
    client.destroy();
    await s.close();
    await s3.close();
  });

  const objects = async (taskId: string) =>
    ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${s.config.QUEUE_PREFIX}/${taskId}/` }))).Contents ?? []).map((o) => o.Key!.split('/').at(-1));
  const blobHash = (queue: string, id: string) => s.redis.hgetallBuffer(`${s.config.QUEUE_PREFIX}:{${queue}}:blobs:${id}`);
  const get = (url: string) => fetch(url);
  const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

  it('sends a 3 MB multipart upload to the upstream byte for byte, keeping it in the bucket and only references in Redis', async () => {
    const image = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7) % 256));
    const form = new FormData();
    form.append('prompt', 'a big cat');
    form.append('image', new Blob([image], { type: 'image/png' }), 'big.png');
    form.append('model', 'gpt-image-1');
    const encoded = new Response(form);
    const contentType = encoded.headers.get('content-type')!;
    const body = Buffer.from(await encoded.arrayBuffer());
    const res = await fetch(`${s.api.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': contentType }, body });
    expect(res.status, await res.clone().text()).toBe(200);
    const id = res.headers.get('x-relayq-task-id')!;
    const seen = s.sim.requests.filter((r) => r.path === '/v1/images/edits').at(-1)!.body as SimForm;
    expect(seen.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(seen.files.image).toEqual({ filename: 'big.png', bytes: image.length, type: 'image/png' });
    const hash = await blobHash('image', id);
    const inRedis = Object.values(hash).reduce((n, v) => n + v.length, 0);
    expect(inRedis).toBeLessThan(2048);
    expect(await objects(id)).toEqual(expect.arrayContaining(['request', 'response']));
    // The edited image's URL is relayq's copy; the task keeps the upstream's.
    const answer = (await res.json()) as { data: { url: string }[] };
    expect(answer.data[0]!.url).toMatch(new RegExp(`^${s.api.url}/v1/files/${id}/[A-Za-z0-9_-]{24}\\.png$`));
    const task = (await s.call('GET', `/v1/tasks/${id}`)).body;
    expect(task.archived).toEqual([{ source_url: expect.stringMatching(new RegExp(`^${s.sim.url}/sim/image/`)), url: answer.data[0]!.url, content_type: 'image/png', bytes: 8 }]);
    s.sim.setMediaGone(true);
    expect((await get(answer.data[0]!.url)).status).toBe(200);
  });

  it('answers a speech call with its audio from the bucket, and serves it again as the task content', async () => {
    const res = await fetch(`${s.api.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'hello from the bucket' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const audio = await bytesOf(res);
    expect(audio.subarray(0, 19).toString()).toBe('SIMAUDIO:mp3:alloy:');
    const id = res.headers.get('x-relayq-task-id')!;
    const hash = await blobHash('audio', id);
    expect(hash.response).toBeUndefined();
    expect(hash['response:ref']?.toString()).toBe(`${s.config.QUEUE_PREFIX}/${id}/response`);
    const content = await fetch(`${s.api.url}/v1/tasks/${id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(content.headers.get('content-length')).toBe(String(audio.length));
    expect((await bytesOf(content)).equals(audio)).toBe(true);
  });

  it('serves an archived MJ image after the upstream stops serving it, without a key, and keeps the upstream URL in the task', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a lighthouse' } });
    const id: string = r.body.result;
    const done = await mjUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done.status).toBe('SUCCESS');
    expect(done.imageUrl).toMatch(new RegExp(`^${s.api.url}/v1/files/${id}/[A-Za-z0-9_-]{24}\\.png$`));
    const task = (await s.call('GET', `/v1/tasks/${id}`)).body;
    expect(task.archived).toEqual([{ source_url: expect.stringMatching(new RegExp(`^${s.sim.url}/sim/image/.+\\.png$`)), url: done.imageUrl, content_type: 'image/png', bytes: 8 }]);
    expect(task.output.image_url).toBe(done.imageUrl);

    s.sim.setMediaGone(true);
    expect((await get(task.archived[0].source_url)).status).toBe(404);
    const served = await get(done.imageUrl);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect((await bytesOf(served)).equals(simMediaBytes(new URL(task.archived[0].source_url).pathname))).toBe(true);
    // A wrong token names nothing.
    expect((await get(done.imageUrl.replace(/\/[A-Za-z0-9_-]{24}\./, '/AAAAAAAAAAAAAAAAAAAAAAAA.'))).status).toBe(404);
  });

  it('archives the single images of an MJ grid (imageUrls) when the upstream gives them', async () => {
    simMj(s.sim).reshape = (v) => (v.status === 'SUCCESS' ? { ...v, imageUrls: [0, 1, 2, 3].map((i) => ({ url: String(v.imageUrl).replace('.png', `_${i}.png`) })) } : v);
    try {
      const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a grid of lighthouses' } });
      const done = await mjUntil(s.call, r.body.result, ['SUCCESS', 'FAILURE']);
      expect(done.imageUrls).toHaveLength(4);
      s.sim.setMediaGone(true);
      for (const image of done.imageUrls as { url: string; thumbnail: null }[]) {
        expect(image.url).toMatch(new RegExp(`^${s.api.url}/v1/files/${r.body.result}/[A-Za-z0-9_-]{24}\\.png$`));
        expect((await get(image.url)).status).toBe(200);
      }
      expect((await s.call('GET', `/v1/tasks/${r.body.result}`)).body.archived).toHaveLength(5);
    } finally {
      simMj(s.sim).reshape = null;
    }
  });

  it('serves Suno audio and video from the bucket once the upstream has dropped them', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'night drive', tags: 'synthwave', mv: 'chirp-v3-5' } });
    const id: string = r.body.data;
    const done = await waitFor(async () => {
      const t = (await s.call('GET', `/suno/fetch/${id}`)).body.data;
      return t.status === 'SUCCESS' || t.status === 'FAILURE' ? t : null;
    });
    expect(done.status).toBe('SUCCESS');
    const archived = (await s.call('GET', `/v1/tasks/${id}`)).body.archived as { source_url: string; url: string }[];
    // Two clips, four media each.
    expect(archived).toHaveLength(8);
    s.sim.setMediaGone(true);
    for (const clip of done.data) {
      for (const field of ['audio_url', 'video_url']) {
        expect(clip[field]).toMatch(new RegExp(`^${s.api.url}/v1/files/${id}/`));
        const source = archived.find((a) => a.url === clip[field])!.source_url;
        const res = await get(clip[field]);
        expect(res.headers.get('content-type')).toBe(field === 'audio_url' ? 'audio/mpeg' : 'video/mp4');
        expect((await bytesOf(res)).equals(simMediaBytes(new URL(source).pathname))).toBe(true);
      }
    }
    expect(await objects(id)).toHaveLength(8);
  });

  it('serves an archived Luma video with its download link and frames once the upstream has dropped them', async () => {
    const r = await s.call('POST', '/luma/generations', { body: { user_prompt: 'a red car --sim-ms 300' } });
    const done = await waitFor(async () => {
      const g = (await s.call('GET', `/luma/generations/${r.body.id}`)).body;
      return g.state === 'completed' || g.state === 'failed' ? g : null;
    });
    expect(done.state).toBe('completed');
    const files = new RegExp(`^${s.api.url}/v1/files/${r.body.id}/[A-Za-z0-9_-]{24}\\.(mp4|jpg)$`);
    expect(done.video.url).toMatch(files);
    expect(done.video.download_url).toMatch(files);
    expect(done.thumbnail.url).toMatch(files);
    expect(done.assets.video).toBe(done.video.url);
    const archived = (await s.call('GET', `/v1/tasks/${r.body.id}`)).body.archived as { source_url: string; url: string }[];
    s.sim.setMediaGone(true);
    const video = await get(done.video.url);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    const source = archived.find((a) => a.url === done.video.url)!.source_url;
    expect(source).toMatch(new RegExp(`^${s.sim.url}/sim/luma/.+-video\\.mp4$`));
    const whole = simMediaBytes(new URL(source).pathname);
    expect(video.headers.get('accept-ranges')).toBe('bytes');
    expect((await bytesOf(video)).equals(whole)).toBe(true);
    // A player seeking: one byte range, from the bucket.
    const part = await fetch(done.video.url, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${whole.length}`);
    expect((await bytesOf(part)).equals(whole.subarray(1000, 2000))).toBe(true);
    const tail = await fetch(done.video.url, { headers: { range: 'bytes=-10' } });
    expect((await bytesOf(tail)).equals(whole.subarray(whole.length - 10))).toBe(true);
    const beyond = await fetch(done.video.url, { headers: { range: `bytes=${whole.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${whole.length}`);
  });

  it('keeps the upstream URL, and says why, when the media cannot be fetched', async () => {
    s.sim.setMediaGone(true);
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a gone lighthouse' } });
    const done = await mjUntil(s.call, r.body.result, ['SUCCESS', 'FAILURE']);
    expect(done.imageUrl).toMatch(new RegExp(`^${s.sim.url}/sim/image/`));
    const task = (await s.call('GET', `/v1/tasks/${r.body.result}`)).body;
    expect(task.archived).toEqual([{ source_url: done.imageUrl, url: null, error: 'the upstream answered HTTP 404' }]);
  });

  it('deletes the files of a task once it has expired', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a short-lived lighthouse' } });
    const id: string = r.body.result;
    const done = await mjUntil(s.call, id, ['SUCCESS']);
    expect(await objects(id)).toHaveLength(1);
    // The task's keys expire (as their TTL makes them): the file is gone at once, the object at the next sweep.
    await s.redis.del(`${s.config.QUEUE_PREFIX}:{mj}:task:${id}`, `${s.config.QUEUE_PREFIX}:{mj}:blobs:${id}`);
    expect((await get(done.imageUrl)).status).toBe(404);
    await blobs.sweep!(Date.now() + (s.config.TASK_RETENTION_SECONDS + 60) * 1000);
    expect(await objects(id)).toEqual([]);
  });

  it('refuses downloads from private addresses unless allowed, and media over the size limit', async () => {
    const store = createTaskStore({ redis: s.redis, queues, config: s.config, blobs });
    const log = createLogger('silent');
    const strict = createArchiver({ store, redis: s.redis, prefix: s.config.QUEUE_PREFIX, config: { ARCHIVE_MAX_BYTES: 1024, ARCHIVE_TIMEOUT_SECONDS: 5, ARCHIVE_ALLOW_PRIVATE: false }, publicUrl: s.api.url });
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a private lighthouse' } });
    const id: string = r.body.result;
    const [refused] = await strict.copy(id, [`${s.sim.url}/sim/image/x.png`], log);
    expect(refused).toMatchObject({ url: null, error: 'target refused: 127.0.0.1 is a loopback, private, link-local, metadata or reserved address (set ARCHIVE_ALLOW_PRIVATE=true to allow)' });
    const small = createArchiver({ store, redis: s.redis, prefix: s.config.QUEUE_PREFIX, config: { ARCHIVE_MAX_BYTES: 1024, ARCHIVE_TIMEOUT_SECONDS: 5, ARCHIVE_ALLOW_PRIVATE: true }, publicUrl: s.api.url });
    const [tooBig] = await small.copy(id, [`${s.sim.url}/sim/suno/clip.mp4`], log);
    expect(tooBig).toEqual({ source_url: `${s.sim.url}/sim/suno/clip.mp4`, url: null, error: 'larger than 1024 bytes' });
  });

  it('archives a task once when two workers see it finish at the same time: the other writes nothing and looks again later', async () => {
    const store = createTaskStore({ redis: s.redis, queues, config: s.config, blobs });
    const log = createLogger('silent');
    const archiver = () => createArchiver({ store, redis: s.redis, prefix: s.config.QUEUE_PREFIX, config: s.config, publicUrl: s.api.url });
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a contested lighthouse --sim-stuck' } });
    const id: string = r.body.result;
    await mjUntil(s.call, id, ['SUBMITTED', 'IN_PROGRESS']);
    const change = { status: 'succeeded' as const, patch: { image_url: `${s.sim.url}/sim/image/contested.png` } };
    const [a, b] = await Promise.all([archiver().finishing(id, change, log), archiver().finishing(id, change, log)]);
    const done = [a, b].filter((c) => c !== null);
    expect(done).toHaveLength(1);
    expect(done[0]!.patch).toMatchObject({ image_url: expect.stringMatching(new RegExp(`^${s.api.url}/v1/files/${id}/`)), archived: [{ source_url: change.patch.image_url }] });
    expect(await objects(id)).toHaveLength(1);
  });

  it('finishes a task another worker is archiving only once that worker is done: the tracker tries the change again', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a claimed lighthouse' } });
    const id: string = r.body.result;
    const claim = `${s.config.QUEUE_PREFIX}:lock:archive:${id}`;
    await s.redis.set(claim, 'other-worker', 'PX', 60_000);
    const upstreamId = await waitFor(async () => JSON.parse((await s.redis.hget(`${s.config.QUEUE_PREFIX}:{mj}:task:${id}`, 'upstream')) ?? 'null')?.id as string | undefined);
    await waitFor(async () => ((await (await fetch(`${s.sim.url}/mj/task/${upstreamId}/fetch`)).json()) as { status: string }).status === 'SUCCESS');
    // Three polls of the upstream after it finished: the task is still not finished here.
    const polls = () => s.sim.requests.filter((q) => q.path === '/mj/task/list-by-condition').length;
    const seen = polls();
    await waitFor(async () => polls() >= seen + 3);
    expect((await s.call('GET', `/mj/task/${id}/fetch`)).body.status).not.toBe('SUCCESS');
    await s.redis.del(claim);
    const done = await mjUntil(s.call, id, ['SUCCESS']);
    expect(done.imageUrl).toMatch(new RegExp(`^${s.api.url}/v1/files/${id}/`));
  });

  it('goes on following other tasks while a slow media host holds up one archive', async () => {
    s.sim.setMediaDelay(4000);
    const slow = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a slow host --sim-ms 100' } })).body.result as string;
    const upstreamId = await waitFor(async () => JSON.parse((await s.redis.hget(`${s.config.QUEUE_PREFIX}:{mj}:task:${slow}`, 'upstream')) ?? 'null')?.id as string | undefined);
    await waitFor(async () => ((await (await fetch(`${s.sim.url}/mj/task/${upstreamId}/fetch`)).json()) as { status: string }).status === 'SUCCESS');
    const other = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a busy lighthouse --sim-ms 3000' } })).body.result as string;
    // The other task's progress arrives while the first one's image is still downloading.
    await mjUntil(s.call, other, ['IN_PROGRESS']);
    expect((await s.call('GET', `/mj/task/${slow}/fetch`)).body.status).not.toBe('SUCCESS');
    const done = await mjUntil(s.call, slow, ['SUCCESS']);
    expect(done.imageUrl).toMatch(new RegExp(`^${s.api.url}/v1/files/${slow}/`));
  });

  it('never writes the S3 credentials to its logs, and names a failed download by host and path only', async () => {
    s.sim.setMediaGone(true);
    const r = await s.call('POST', '/v1/images/generations', { body: { prompt: 'a logged cat', model: 'dall-e-3' } });
    expect(r.status).toBe(200);
    const warned = await waitFor(async () => logLines.find((l) => l.includes('output not archived') && l.includes(r.headers.get('x-relayq-task-id')!)));
    expect(JSON.parse(warned)).toMatchObject({ level: 40, source: expect.stringMatching(new RegExp(`^${s.sim.url}/sim/image/[^?]+$`)), error: 'the upstream answered HTTP 404' });
    expect(logLines.length).toBeGreaterThan(2);
    for (const line of logLines) expect(line).not.toContain(s3.env.S3_SECRET_ACCESS_KEY);
  });
});
