import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { newTaskId } from '../../shared/ids.js';
import { createQueues, type Queues } from '../../shared/queues.js';
import { gridButtons } from '../../shared/families/mj/buttons.js';
import { newMjRequest, newMjTask, type MjTask } from '../../shared/families/mj/task.js';
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

  it('leaves defaults out of a new record, packs its buttons, and reads it (and its webhook snapshots) back exactly', async () => {
    const t = { ...make(), webhook: { url: 'https://hooks.example/x', format: 'generic', events: null } };
    await store.create(t);
    const key = `${prefix}:{mj}:task:${t.id}`;
    expect(Object.keys(await redis.hgetall(key)).sort()).toEqual(['created_at', 'kind', 'mj', 'status', 'tenant', 'webhook']);
    expect(JSON.parse((await redis.hget(key, 'mj'))!)).toEqual({ action: 'IMAGINE', prompt: 'p', description: '/imagine p' });
    expect(await store.get(t.id)).toEqual(t);
    const upstream = { channel: 'c1', id: 'u1', modalId: null, status: 'SUCCESS' };
    const attempt = { channel: 'c1', at: 5, outcome: 'succeeded' as const, status: null, error: null };
    await store.update(t, { status: 'running', patch: { started_at: 10, upstream, channel_attempts: [attempt] } });
    const buttons = gridButtons('f9991782-9293-437c-855c-c2cca3eb69a3');
    await store.update(t, { status: 'succeeded', patch: { completed_at: 20, progress: 100, image_url: 'https://cdn.example/a.png', buttons } });
    expect(JSON.parse((await redis.hget(key, 'buttons'))!)).toEqual({ h: 'f9991782-9293-437c-855c-c2cca3eb69a3', b: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    const done = { ...t, status: 'succeeded', progress: 100, started_at: 10, completed_at: 20, upstream, channel_attempts: [attempt], image_url: 'https://cdn.example/a.png', buttons };
    const read = (await store.get(t.id)) as MjTask;
    expect(read).toEqual(done);
    expect(JSON.stringify(read.buttons)).toBe(JSON.stringify(buttons));
    expect(JSON.stringify(read.upstream)).toBe(JSON.stringify(upstream));
    expect(JSON.stringify(read.channel_attempts)).toBe(JSON.stringify([attempt]));
    const events = await store.events(t.id, '0');
    expect(events.at(-1)!.snapshot).toEqual(done);
    expect(events.at(-2)!.snapshot).toEqual({ ...t, status: 'running', started_at: 10, upstream, channel_attempts: [attempt] });
  });

  it('reads a record stored before (every field as its plain JSON)', async () => {
    const t = { ...make(), status: 'succeeded' as const, progress: 100, image_url: 'https://cdn.example/a.png', buttons: gridButtons('abc'), upstream: { channel: 'c1', id: 'u1', modalId: null, status: 'SUCCESS' } };
    const { family: _family, ...fields } = t;
    await redis.hset(`${prefix}:{mj}:task:${t.id}`, Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, JSON.stringify(v)])));
    expect(await store.get(t.id)).toEqual(t);
  });

  it('writes a change back to a default over what was stored', async () => {
    const t = make();
    await store.create(t);
    await store.update(t, { patch: { image_url: 'https://cdn.example/p.png', progress: 40 } });
    await store.update(t, { patch: { image_url: null, progress: 0 } });
    const read = (await store.get(t.id)) as MjTask;
    expect([read.image_url, read.progress]).toEqual([null, 0]);
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

  it('creates a task and its job in one script call, the job exactly as BullMQ\'s own add makes it', async () => {
    const job = (id: string) => ({ name: 'mj.submit', data: { taskId: id }, options: { attempts: 3, backoff: { type: 'upstream', delay: 500 }, removeOnComplete: 100 } });
    const multi = vi.spyOn(redis, 'multi');
    const create = vi.spyOn(redis, 'relayqTaskCreate');
    const a = make();
    const res = await store.create(a, { blobs: { image0: blob }, job: job(a.id), aliases: [{ key: `${prefix}:{mj}:alias:a`, ttlSeconds: 60 }] });
    expect(multi).not.toHaveBeenCalled();
    expect(create).toHaveBeenCalledTimes(1);
    // Two aliases take the MULTI path (BullMQ's Job.addJob queued into it): the reference.
    const b = make();
    await store.create(b, { job: job(b.id), aliases: [{ key: `${prefix}:{mj}:alias:b1`, ttlSeconds: 60 }, { key: `${prefix}:{mj}:alias:b2`, ttlSeconds: 60 }] });
    expect(multi).toHaveBeenCalled();
    multi.mockRestore();
    create.mockRestore();
    expect(await store.get(a.id)).toEqual(a);
    expect((await store.blobs(a.id)).image0).toEqual(blob);
    expect(await redis.get(`${prefix}:{mj}:alias:a`)).toBe(a.id);
    expect(await redis.ttl(`${prefix}:{mj}:alias:a`)).toBeGreaterThan(50);
    expect(res.ahead).toBeGreaterThanOrEqual(0);
    const queue = queues.get({ queue: 'mj', shard: 0 });
    const [ja, jb] = await Promise.all([queue.getJob(a.id), queue.getJob(b.id)]);
    expect(ja && jb).toBeTruthy();
    expect({ name: ja!.name, data: ja!.data, opts: ja!.opts }).toEqual({ name: jb!.name, data: { taskId: a.id }, opts: { ...jb!.opts, jobId: a.id } });
    expect(await queue.getJobState(a.id)).toBe('waiting');
    const fields = async (id: string) => Object.keys(await redis.hgetall(`${queue.keys['']}${id}`)).sort();
    expect(await fields(a.id)).toEqual(await fields(b.id));
    const events = await store.events(a.id, '0');
    expect(events.map((e) => e.status)).toEqual(['queued']);
    expect(await redis.zscore(`${prefix}:{mj}:tenant:acme:tasks`, a.id)).toBe(String(a.created_at));
    expect(await redis.zscore(`${prefix}:{mj}:tenant:acme:active`, a.id)).toBe(String(a.created_at));
  });

  it('counts the jobs ahead of a new one in the creating step', async () => {
    const queue = queues.get({ queue: 'mj', shard: 0 });
    const waiting = await queue.getWaitingCount();
    const t = make();
    const res = await store.create(t, { job: { name: 'mj.submit', data: { taskId: t.id }, options: {} } });
    expect(res.ahead).toBe(waiting);
    const u = make();
    expect((await store.create(u)).ahead).toBeNull();
  });

  it('takes a task off the webhook due set only when no change came after the cursor, the folded history included', async () => {
    const t = make();
    await store.create(t);
    const due = `${prefix}:{mj}:webhook-due`;
    await redis.zadd(due, 1, t.id);
    expect(await store.idleAfter(t.id, '0')).toBe(false);
    expect(await redis.zscore(due, t.id)).not.toBeNull();
    const [first] = await store.events(t.id, '0');
    expect(await store.idleAfter(t.id, first!.id)).toBe(true);
    expect(await redis.zscore(due, t.id)).toBeNull();
    // Finished, and past the whole log's hour: only the folded history is left to compare with.
    await store.update(t, { status: 'succeeded' });
    await redis.del(`${prefix}:{mj}:events:${t.id}`);
    await redis.zadd(due, 1, t.id);
    expect(await store.idleAfter(t.id, first!.id)).toBe(false);
    const last = (await store.events(t.id, '0')).at(-1)!;
    expect(await store.idleAfter(t.id, last.id)).toBe(true);
    expect(await redis.zscore(due, t.id)).toBeNull();
  });

  it('counts the jobs ahead of a modal step\'s job in the step that queues it', async () => {
    const queue = queues.get({ queue: 'mj', shard: 0 });
    const t = { ...make(), status: 'requires_action' as const };
    await store.create(t);
    const waiting = await queue.getWaitingCount();
    const res = await store.updateAndEnqueue(t, { status: 'queued', from: ['requires_action'] }, { job: { name: 'mj.submit', data: { taskId: t.id }, options: {} } });
    expect(res).toMatchObject({ applied: true, status: 'queued', ahead: waiting });
    expect(await queue.getJobState(t.id)).toBe('waiting');
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
