import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimVideoHandle } from '../../sim/video.js';
import { hasRedisCli, hasRedisServer, launchRedisCluster } from '../support/redis.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

/**
 * Videos on a real Redis Cluster, over two shards: the task, its job, its blobs, its in-flight
 * record and its upstream-cancel list share one slot, or Redis answers CROSSSLOT.
 */
describe.runIf(hasRedisServer() && hasRedisCli())('videos on a Redis Cluster', () => {
  let cluster: Awaited<ReturnType<typeof launchRedisCluster>>;
  let s: Stack;
  beforeAll(async () => {
    cluster = await launchRedisCluster(3);
    s = await startStack({ redisUrl: `redis://${cluster.nodes[0]}`, sim: { videoDurationMs: 300 }, env: { REDIS_CLUSTER_NODES: cluster.nodes.join(','), QUEUE_SHARDS: '2' } });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await cluster?.close();
  }, 60_000);

  it('creates, follows, downloads, remixes, lists and deletes videos across shards', async () => {
    const client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await client.videos.create({ prompt: `cluster ${i}` }, { headers: { 'idempotency-key': `vc${i}` } })).id);
    expect(new Set(ids.map((id) => id.split('_')[0])).size).toBeGreaterThan(1);
    for (const id of ids) await waitFor(async () => (await client.videos.retrieve(id)).status === 'completed', { what: `video ${id}` });
    expect((await (await client.videos.downloadContent(ids[0]!)).arrayBuffer()).byteLength).toBe(256 * 1024);
    const remix = await client.videos.remix(ids[1]!, { prompt: 'cluster remix' });
    await waitFor(async () => (await client.videos.retrieve(remix.id)).status === 'completed', { what: 'the remix' });
    const listed: string[] = [];
    for await (const v of client.videos.list({ limit: 2 })) listed.push(v.id);
    expect(listed).toHaveLength(5);
    const stuck = await client.videos.create({ prompt: 'cluster stuck --sim-stuck' });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${stuck.id}`)).body.status === 'running');
    await client.videos.delete(stuck.id);
    await client.videos.delete(ids[2]!);
    expect((await s.call('GET', `/v1/tasks/${stuck.id}`)).body.status).toBe('canceled');
    // Both upstream deletes went through the shards' cancel lists to the tracker.
    const sim = s.sim.handles.video as SimVideoHandle;
    await waitFor(async () => [...sim.videos.values()].filter((v) => v.deleted).length === 2, { what: 'two upstream deletes' });
  });
});
