import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { hasRedisCli, hasRedisServer, launchRedisCluster } from '../support/redis.js';
import { KEYS, mjUntil, startStack, waitFor, type Stack } from '../support/stack.js';

/**
 * SPEC §11 on a real Redis Cluster: every multi-key operation (task + job, update script, webhook
 * state) must stay in one slot, or Redis answers CROSSSLOT. Needs redis-server and redis-cli.
 */
describe.runIf(hasRedisServer() && hasRedisCli())('on a Redis Cluster', () => {
  let cluster: Awaited<ReturnType<typeof launchRedisCluster>>;
  let s: Stack;
  let rx: Receiver;
  beforeAll(async () => {
    cluster = await launchRedisCluster(3);
    s = await startStack({
      redisUrl: `redis://${cluster.nodes[0]}`,
      sim: { mjDurationMs: 300 },
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
});
