import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { newTaskId } from '../../shared/ids.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { newMjRequest, newMjTask } from '../../shared/families/mj/task.js';
import { createRedisBlobStore, type BlobStore } from '../../shared/blobs.js';
import { createTaskStore, type TaskStore } from '../../shared/tasks/store.js';

describe('task store', () => {
  let redis: Redis;
  let queues: Queues;
  let store: TaskStore;
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const config = loadConfig({ QUEUE_PREFIX: prefix, TASK_RETENTION_SECONDS: '120' });
  const make = () => newMjTask({ id: newTaskId({ queue: 'mj', shard: 0 }), kind: 'mj.imagine', tenant: 'acme', mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '/imagine p' }) });
  const blob = { type: 'image/png', data: Buffer.from([1, 2, 3]) };

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    queues = createQueues({ redis, prefix, shards: 1 });
    store = createTaskStore({ redis, queues, config });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await queues.close();
    redis.disconnect();
  });

  it('reads back exactly what it wrote', async () => {
    const t = make();
    await store.create(t, { blobs: { image0: blob } });
    expect(await store.get(t.id)).toEqual(t);
    expect((await store.blobs(t.id)).image0).toEqual(blob);
  });

  it('moves status forward only', async () => {
    const t = make();
    await store.create(t);
    expect(await store.update(t, { status: 'running' })).toEqual({ applied: true, status: 'running' });
    expect(await store.update(t, { status: 'queued' })).toEqual({ applied: false, status: 'running' });
    expect(await store.update(t, { status: 'succeeded', patch: { progress: 100 } })).toEqual({ applied: true, status: 'succeeded' });
    expect(await store.update(t, { status: 'failed' })).toEqual({ applied: false, status: 'succeeded' });
    expect(await store.update(t, { patch: { progress: 3 } })).toEqual({ applied: false, status: 'succeeded' });
    expect((await store.get(t.id))?.progress).toBe(100);
  });

  it('keeps outputs given with a change in the same step, only when the change applies, expiring with the task', async () => {
    const t = make();
    await store.create(t);
    const answer = { type: 'application/json', data: Buffer.from('{"ok":true}') };
    expect(await store.update(t, { status: 'succeeded', blobs: { response: answer } })).toEqual({ applied: true, status: 'succeeded' });
    expect((await store.blobs(t.id)).response).toEqual(answer);
    expect(await redis.ttl(`${prefix}:{mj}:blobs:${t.id}`)).toBeGreaterThan(100);
    // A finished task takes nothing more, outputs included.
    expect(await store.update(t, { status: 'failed', blobs: { late: answer } })).toEqual({ applied: false, status: 'succeeded' });
    expect(Object.keys(await store.blobs(t.id))).toEqual(['response']);
    // Nor does a task that is gone.
    const gone = make();
    expect(await store.update(gone, { status: 'succeeded', blobs: { response: answer } })).toBeNull();
    expect(await redis.exists(`${prefix}:{mj}:blobs:${gone.id}`)).toBe(0);
  });

  it('keeps the whole event log for a while after the end, then only its folded history', async () => {
    const short = createTaskStore({ redis, queues, config, fullEventLogSeconds: 1 });
    const t = make();
    await short.create(t);
    await short.update(t, { status: 'running' });
    for (const progress of [10, 40, 70]) await short.update(t, { patch: { progress } });
    await short.update(t, { status: 'succeeded', patch: { progress: 100 } });
    const whole = await short.events(t.id, '0');
    expect(whole.map((e) => [e.status, e.progress])).toEqual([['queued', null], ['running', null], ['running', 10], ['running', 40], ['running', 70], ['succeeded', 100]]);
    // Past the window: every status change and the end, without the progress the end superseded.
    await vi.waitFor(async () => expect(await redis.exists(`${prefix}:{mj}:events:${t.id}`)).toBe(0), { timeout: 5000, interval: 100 });
    const folded = await short.events(t.id, '0');
    expect(folded.map((e) => e.id)).toEqual([whole[0]!.id, whole[1]!.id, whole[5]!.id]);
    // A resume after an entry that was folded away still gets exactly what followed it.
    expect((await short.events(t.id, whole[3]!.id)).map((e) => e.id)).toEqual([whole[5]!.id]);
    expect(await redis.ttl(`${prefix}:{mj}:history:${t.id}`)).toBeGreaterThan(100);
  });

  it('applies a change only from the statuses it names', async () => {
    const t = make();
    await store.create(t);
    expect(await store.update(t, { status: 'running', from: ['requires_action'] })).toEqual({ applied: false, status: 'queued' });
    expect(await store.update(t, { status: 'running', from: ['queued'] })).toEqual({ applied: true, status: 'running' });
  });

  it('keeps an unfinished task forever and a finished one, with its blobs, for TASK_RETENTION_SECONDS', async () => {
    const t = make();
    await store.create(t, { blobs: { image0: blob } });
    const key = `${prefix}:{mj}:task:${t.id}`;
    const blobs = `${prefix}:{mj}:blobs:${t.id}`;
    expect(await redis.ttl(key)).toBe(-1);
    await store.update(t, { status: 'failed' });
    expect(await redis.ttl(key)).toBeGreaterThan(100);
    expect(await redis.ttl(blobs)).toBeGreaterThan(100);
    expect(await redis.zscore(`${prefix}:{mj}:tenant:acme:active`, t.id)).toBeNull();
  });

  it('writes nothing when the job cannot be added', async () => {
    const t = make();
    const before = await redis.keys(`${prefix}:*`);
    // BullMQ refuses these options; the whole transaction must be dropped with it.
    await expect(store.create(t, { blobs: { image0: blob }, job: { name: 'mj.submit', data: { taskId: t.id }, options: { priority: 1.5 } } })).rejects.toThrow();
    expect((await redis.keys(`${prefix}:*`)).sort()).toEqual(before.sort());
  });

  it('annotates a finished task but never resurrects an expired one', async () => {
    const t = make();
    await store.create(t);
    await store.update(t, { status: 'succeeded' });
    expect(await store.annotate(t.id, { seed: '42' })).toBe(true);
    expect(((await store.get(t.id)) as { seed?: string } | null)?.seed).toBe('42');
    const gone = make();
    expect(await store.annotate(gone.id, { seed: '1' })).toBe(false);
    expect(await redis.exists(`${prefix}:{mj}:task:${gone.id}`)).toBe(0);
  });

  it('keeps blobs through the BlobStore it is given and tells it once when the task finishes', async () => {
    const finished: string[] = [];
    const inner = createRedisBlobStore({ redis, prefix });
    const recording: BlobStore = { ...inner, finished: async (id, ttl) => void finished.push(`${id}:${ttl}`) };
    const own = createTaskStore({ redis, queues, config, blobs: recording });
    const t = make();
    await own.create(t, { blobs: { image0: blob } });
    await own.putBlobs(t.id, { response: { type: 'text/plain', data: Buffer.from('ok') } });
    expect(Object.keys(await own.blobs(t.id)).sort()).toEqual(['image0', 'response']);
    await own.update(t, { status: 'running' });
    expect(finished).toEqual([]);
    await own.update(t, { status: 'succeeded' });
    await own.update(t, { status: 'failed' });
    expect(finished).toEqual([`${t.id}:120`]);
  });

  it('lists a tenant newest first in pages, dropping tasks whose records expired', async () => {
    const tenant = `lister-${Date.now()}`;
    const tasks = [0, 1, 2, 3].map((i) => newMjTask({ id: newTaskId({ queue: 'mj', shard: 0 }), kind: 'mj.imagine', tenant: tenant, mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '/imagine p' }) }, 1_000 + i));
    for (const t of tasks) await store.create(t);
    const first = await store.listByTenant(tenant, ['mj'], 2);
    expect(first.tasks.map((t) => t.id)).toEqual([tasks[3]!.id, tasks[2]!.id]);
    expect(first.more).toBe(true);
    const second = await store.listByTenant(tenant, ['mj'], 2, first.tasks[1]);
    expect(second.tasks.map((t) => t.id)).toEqual([tasks[1]!.id, tasks[0]!.id]);
    expect(second.more).toBe(false);
    // The record of one task expires: it leaves the list and its index entry goes too.
    await redis.del(`${prefix}:{mj}:task:${tasks[2]!.id}`);
    const after = await store.listByTenant(tenant, ['mj'], 10);
    expect(after.tasks.map((t) => t.id)).toEqual([tasks[3]!.id, tasks[1]!.id, tasks[0]!.id]);
    expect(await redis.zscore(`${prefix}:{mj}:tenant:${tenant}:tasks`, tasks[2]!.id)).toBeNull();
  });
});
