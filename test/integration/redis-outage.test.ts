import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { StoreUnavailableError } from '../../shared/errors.js';
import { newTaskId } from '../../shared/ids.js';
import { createQueues } from '../../shared/queues.js';
import { newMjRequest, newMjTask } from '../../shared/families/mj/task.js';
import { createTaskStore } from '../../shared/tasks/store.js';
import { launchRedis, type LaunchedRedis } from '../support/redis.js';
import { mjUntil, startStack, type Stack } from '../support/stack.js';

/** Redis outages: the API answers 503 fast while Redis is gone, and work resumes when it is back. */
describe('Redis outage', () => {
  let redis: LaunchedRedis;
  let s: Stack;
  beforeAll(async () => {
    redis = await launchRedis({ persist: true });
    s = await startStack({ redisUrl: redis.url, sim: { mjDurationMs: 1500 } });
  });
  afterAll(async () => {
    await redis.start(); // in case the test stopped half-way
    await s.close();
    await redis.close();
  });

  it('answers 503 with code 9 at once, writes nothing, and finishes in-flight work after Redis returns', async () => {
    const inflight = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'survives the outage' } })).body.result;
    await mjUntil(s.call, inflight, ['SUBMITTED', 'IN_PROGRESS']);
    await redis.stop();

    const started = Date.now();
    const submit = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'during outage' } });
    expect(submit.status).toBe(503);
    expect(submit.body).toMatchObject({ code: 9, result: null });
    const fetch = await s.call('GET', `/mj/task/${inflight}/fetch`);
    expect(fetch.status).toBe(503);
    const ready = await s.call('GET', '/readyz', { key: null });
    expect(ready.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3000);

    await redis.start();
    const done = await mjUntil(s.call, inflight, ['SUCCESS'], undefined, 20_000);
    expect(done.status).toBe('SUCCESS');
    const after = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'after outage' } });
    expect(after.status).toBe(200);
    await mjUntil(s.call, after.body.result, ['SUCCESS'], undefined, 20_000);
    const list = await s.call('GET', '/mj/task/list');
    expect(list.body.map((t: { prompt: string }) => t.prompt)).not.toContain('during outage');
  });
});

describe('Redis refusing writes', () => {
  let redis: LaunchedRedis;
  beforeAll(async () => {
    redis = await launchRedis();
  });
  afterAll(() => redis.close());

  it('drops the whole task-and-job transaction when Redis refuses a write inside it', async () => {
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queues = createQueues({ redis: conn, prefix: 'oom', shards: 1 });
    const store = createTaskStore({ redis: conn, queues, config: loadConfig({ QUEUE_PREFIX: 'oom' }) });
    try {
      await queues.get({ queue: 'mj', shard: 0 }).client; // load BullMQ's scripts while writes still work
      const before = await conn.keys('oom:*');
      await conn.config('SET', 'maxmemory', '1');
      const t = newMjTask({ id: newTaskId({ queue: 'mj', shard: 0 }), kind: 'mj.imagine', tenant: 'acme', mj: newMjRequest({ action: 'IMAGINE', prompt: 'p', description: '/imagine p' }) });
      const job = { name: 'mj.submit', data: { taskId: t.id }, options: {} };
      await expect(store.create(t, { blobs: { image0: { type: 'image/png', data: Buffer.from([1]) } }, job })).rejects.toBeInstanceOf(StoreUnavailableError);
      await conn.config('SET', 'maxmemory', '0');
      expect(await conn.keys('oom:*')).toEqual(before);
    } finally {
      await conn.config('SET', 'maxmemory', '0');
      await queues.close();
      conn.disconnect();
    }
  });
});
