import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { hasRedisCli, hasRedisServer, launchRedisCluster } from '../support/redis.js';
import { startStack, waitFor, type Stack } from '../support/stack.js';

/**
 * Suno tasks on a real Redis Cluster, two shards: the task, its job, its idempotency key, its
 * in-flight record and its webhook state share the `{suno}`/`{suno:1}` hash tag, or Redis answers
 * CROSSSLOT. Needs redis-server and redis-cli.
 */
describe.runIf(hasRedisServer() && hasRedisCli())('Suno on a Redis Cluster', () => {
  let cluster: Awaited<ReturnType<typeof launchRedisCluster>>;
  let s: Stack;
  let rx: Receiver;
  beforeAll(async () => {
    cluster = await launchRedisCluster(3);
    s = await startStack({
      redisUrl: `redis://${cluster.nodes[0]}`,
      sim: { sunoDurationMs: 400 },
      env: { REDIS_CLUSTER_NODES: cluster.nodes.join(','), QUEUE_SHARDS: '2', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50' },
    });
    rx = await startReceiver();
  }, 60_000);
  afterAll(async () => {
    await rx?.close();
    await s?.close();
    await cluster?.close();
  }, 60_000);

  const until = (id: string, status: string) =>
    waitFor(
      async () => {
        const task = (await s.call('GET', `/suno/fetch/${id}`)).body.data;
        return task?.status === status ? task : null;
      },
      { what: `${id} to reach ${status}` },
    );

  it('runs music, lyrics, an extend, a batch fetch, a cancel and webhooks across shards and nodes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await s.call('POST', '/suno/submit/music', { body: { prompt: `cluster ${i}` }, headers: { 'idempotency-key': `suno-c${i}`, 'x-webhook-url': rx.url } });
      expect(r.body.code).toBe('success');
      ids.push(r.body.data);
    }
    expect(new Set(ids.map((id) => id.split('_')[0]))).toEqual(new Set(['suno', 'suno1']));
    const parent = await until(ids[0]!, 'SUCCESS');
    for (const id of ids.slice(1)) await until(id, 'SUCCESS');
    expect((await s.call('POST', '/suno/fetch', { body: { ids } })).body.data).toHaveLength(4);

    const extend = await s.call('POST', '/suno/submit/music', { body: { continue_clip_id: parent.data[0].id, task_id: ids[0], continue_at: 60, prompt: 'more' } });
    await until(extend.body.data, 'SUCCESS');
    const lyrics = await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'cluster words' } });
    await until(lyrics.body.data, 'SUCCESS');

    const long = await s.call('POST', '/suno/submit/music', { body: { prompt: 'cancel me --sim-stuck' } });
    await until(long.body.data, 'SUBMITTED');
    expect((await s.call('POST', `/v1/tasks/${long.body.data}/cancel`)).body.status).toBe('canceled');
    await waitFor(async () => rx.received.filter((r) => r.body?.type === 'task.succeeded').length === 4, { what: 'four task.succeeded webhooks' });
  });
});
