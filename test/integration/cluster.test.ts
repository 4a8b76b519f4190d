import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { hasRedisCli, hasRedisServer, launchRedisCluster } from '../support/redis.js';
import type { SimVideoHandle } from '../../sim/video.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

/**
 * Scaling out on a real Redis Cluster: every multi-key operation (task + job, update script, webhook
 * state, in-flight records, upstream-cancel lists) must stay in one slot, or Redis answers
 * CROSSSLOT. One cluster serves every family's run. Needs redis-server and redis-cli.
 */
describe.runIf(hasRedisServer() && hasRedisCli())('on a Redis Cluster', () => {
  let cluster: Awaited<ReturnType<typeof launchRedisCluster>>;
  let s: Stack;
  let rx: Receiver;
  beforeAll(async () => {
    cluster = await launchRedisCluster(3);
    s = await startStack({
      redisUrl: `redis://${cluster.nodes[0]}`,
      sim: { mjDurationMs: 300, sunoDurationMs: 400, videoDurationMs: 300, lumaDurationMs: 300 },
      env: { REDIS_CLUSTER_NODES: cluster.nodes.join(','), QUEUE_SHARDS: '2', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50' },
    });
    rx = await startReceiver();
  }, 60_000);
  afterAll(async () => {
    await rx?.close();
    await s?.close();
    await cluster?.close();
  }, 60_000);

  it('runs MJ flows, OpenAI calls, streams, cancels and webhooks across shards and nodes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: `cluster ${i}`, notifyHook: rx.url }, headers: { 'idempotency-key': `c${i}` } });
      expect(r.status).toBe(200);
      ids.push(r.body.result);
    }
    expect(new Set(ids.map((id) => id.split('_')[0])).size).toBeGreaterThan(1);
    for (const id of ids) await mjUntil(s.call, id, ['SUCCESS']);
    const parent = (await s.call('GET', `/mj/task/${ids[0]}/fetch`)).body;
    const u1 = await s.call('POST', '/mj/submit/action', { body: { taskId: ids[0], customId: parent.buttons[0].customId } });
    await mjUntil(s.call, u1.body.result, ['SUCCESS']);

    const sdk = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    expect((await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi cluster' }] })).choices[0]!.message.content).toBe('Echo: hi cluster');
    let text = '';
    for await (const c of await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'stream cluster' }], stream: true })) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Echo: stream cluster');

    const stuck = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'cancel me --sim-stuck' } });
    expect((await s.call('POST', `/mj/task/${stuck.body.result}/cancel`)).body.code).toBe(1);
    expect((await s.call('GET', '/v1/tasks?limit=3')).body.data).toHaveLength(3);

    const secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
    await waitFor(async () => rx.received.filter((r) => r.body?.status === 'SUCCESS').length === 4, { what: 'four SUCCESS callbacks' });
    for (const r of rx.received) new Webhook(secret).verify(r.raw, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
  });

  const sunoUntil = (id: string, status: string) =>
    waitFor(
      async () => {
        const task = (await s.call('GET', `/suno/fetch/${id}`)).body.data;
        return task?.status === status ? task : null;
      },
      { what: `${id} to reach ${status}` },
    );

  it('Suno: runs music, lyrics, an extend, a batch fetch, a cancel and webhooks across shards and nodes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await s.call('POST', '/suno/submit/music', { body: { prompt: `cluster ${i}` }, headers: { 'idempotency-key': `suno-c${i}`, 'x-webhook-url': rx.url } });
      expect(r.body.code).toBe('success');
      ids.push(r.body.data);
    }
    expect(new Set(ids.map((id) => id.split('_')[0]))).toEqual(new Set(['suno', 'suno1']));
    const parent = await sunoUntil(ids[0]!, 'SUCCESS');
    for (const id of ids.slice(1)) await sunoUntil(id, 'SUCCESS');
    expect((await s.call('POST', '/suno/fetch', { body: { ids } })).body.data).toHaveLength(4);

    const extend = await s.call('POST', '/suno/submit/music', { body: { continue_clip_id: parent.data[0].id, task_id: ids[0], continue_at: 60, prompt: 'more' } });
    await sunoUntil(extend.body.data, 'SUCCESS');
    const lyrics = await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'cluster words' } });
    await sunoUntil(lyrics.body.data, 'SUCCESS');

    const long = await s.call('POST', '/suno/submit/music', { body: { prompt: 'cancel me --sim-stuck' } });
    await sunoUntil(long.body.data, 'SUBMITTED');
    expect((await s.call('POST', `/v1/tasks/${long.body.data}/cancel`)).body.status).toBe('canceled');
    await waitFor(async () => rx.received.filter((r) => r.body?.type === 'task.succeeded' && String(r.body?.data?.id).startsWith('suno')).length === 4, { what: 'four task.succeeded webhooks' });
  });

  it('OpenAI videos: creates, follows, downloads, remixes, lists and deletes videos across shards', async () => {
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

  it('Luma and Anthropic: a generation and a message stream across shards', async () => {
    const gen = await s.call('POST', '/luma/generations', { body: { user_prompt: 'cluster luma' } });
    expect(gen.status).toBe(200);
    await waitFor(async () => (await s.call('GET', `/luma/generations/${gen.body.id}`)).body.state === 'completed', { what: 'the Luma generation' });
    const claude = new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 0 });
    const message = await claude.messages.stream({ model: 'claude-x', max_tokens: 64, messages: [{ role: 'user', content: 'hi cluster' }] }).finalMessage();
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Echo: hi cluster' });
  });

  it('scrapes /metrics and lists every queue shard on the dashboard across nodes', async () => {
    const bearer = { authorization: `Bearer ${KEYS.admin}` };
    await waitFor(async () => /relayq_tasks_finished_total\{kind="[^"]+",outcome="succeeded"\} [1-9]/.test((await s.call<string>('GET', '/metrics', { key: KEYS.admin })).body), { what: 'finished tasks in /metrics' });
    const metrics = (await s.call<string>('GET', '/metrics', { key: KEYS.admin })).body;
    expect(metrics).toMatch(/relayq_queue_jobs\{queue="[^"]+",shard="1",state="waiting"\} \d+/);
    const board = await fetch(`${s.api.url}/admin/queues/api/queues`, { headers: bearer });
    expect(board.status).toBe(200);
    expect(((await board.json()) as { queues: unknown[] }).queues.length).toBeGreaterThan(2);
  });
});
