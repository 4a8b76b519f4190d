import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimLuma } from '../../sim/luma.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { readSse } from '../support/sse.js';
import { KEYS, startStack, waitFor, type Call, type Stack } from '../support/stack.js';

const simLuma = (s: Stack) => s.sim.handles.luma as SimLuma;

/** Polls a generation until its state is one of `states`; every state seen on the way is kept. */
export async function lumaUntil(call: Call, id: string, states: string[], seen: string[] = [], timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const r = await call('GET', `/luma/generations/${id}`);
      if (seen.at(-1) !== r.body?.state) seen.push(r.body?.state);
      return states.includes(r.body?.state) ? r.body : null;
    },
    { timeoutMs, what: `generation ${id} to reach ${states.join('|')}` },
  );
}

/** The upstream generation the simulator made for a prompt. */
const upstreamOf = (s: Stack, prompt: string) => waitFor(async () => [...simLuma(s).generations.values()].find((g) => g.prompt === prompt), { what: `upstream generation "${prompt}"` });

describe('Luma generations', () => {
  let s: Stack;
  let rx: Receiver | null = null;
  beforeAll(async () => {
    s = await startStack({
      sim: { lumaDurationMs: 300 },
      env: { UPSTREAM_TASK_TIMEOUT_SECONDS: '2', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20', WEBHOOK_PROGRESS_INTERVAL_MS: '0' },
    });
  });
  afterEach(async () => {
    s.sim.faults.clear();
    simLuma(s).reshape = null;
    await rx?.close();
    rx = null;
  });
  afterAll(() => s.close());

  it('answers a submit with a pending generation under relayq’s id, then completes it with the upstream’s video', async () => {
    const r = await s.call('POST', '/luma/generations', { body: { user_prompt: 'a red car at dusk', aspect_ratio: '16:9', expand_prompt: true } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: expect.stringMatching(/^luma_/), prompt: 'a red car at dusk', state: 'pending', video: null, liked: null, failure_reason: null });
    expect(new Date(r.body.created_at).toISOString()).toBe(r.body.created_at);
    expect(r.headers.get('x-relayq-task-id')).toBe(r.body.id);
    const seen: string[] = [];
    const done = await lumaUntil(s.call, r.body.id, ['completed'], seen);
    const up = await upstreamOf(s, 'a red car at dusk');
    expect(seen).toContain('processing');
    expect(done).toMatchObject({
      id: r.body.id,
      state: 'completed',
      video: { url: `${s.sim.url}/sim/luma/${up.id}-video.mp4`, download_url: `${s.sim.url}/sim/luma/${up.id}-video.mp4?download=1`, width: 1360, height: 752 },
      thumbnail: { url: `${s.sim.url}/sim/luma/${up.id}-thumb.jpg` },
      last_frame: { url: `${s.sim.url}/sim/luma/${up.id}-last.jpg` },
      assets: { video: `${s.sim.url}/sim/luma/${up.id}-video.mp4` },
    });
    // The upstream got the request as Luma-API reads it; the client never sees the upstream id but in media URLs.
    expect(up.request).toEqual({ user_prompt: 'a red car at dusk', aspect_ratio: '16:9', expand_prompt: true });
    const { id: _id, video: _v, thumbnail: _t, last_frame: _l, video_raw: _r, assets: _a, ...rest } = done;
    expect(JSON.stringify(rest)).not.toContain(up.id);
  });

  it('serves the same protocol under /luma/v1 and at /luma/generations/ with the slash', async () => {
    const v1 = await s.call('POST', '/luma/v1/generations', { body: { user_prompt: 'v1 route' } });
    const slash = await s.call('POST', '/luma/generations/', { body: { user_prompt: 'slash route' } });
    expect([v1.status, slash.status]).toEqual([200, 200]);
    expect((await s.call('GET', `/luma/v1/generations/${slash.body.id}`)).body.id).toBe(slash.body.id);
    await lumaUntil(s.call, v1.body.id, ['completed']);
  });

  it('keeps a generation the upstream calls completed without a video URL running until the URL exists', async () => {
    const prompt = 'late link --sim-novideo-ms 1500';
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: prompt } });
    const up = await upstreamOf(s, prompt);
    // Once relayq copied the upstream's `completed` answer (its thumbnail came with it), the state is still processing.
    const mid = await waitFor(async () => {
      const g = (await s.call('GET', `/luma/generations/${body.id}`)).body;
      return g.thumbnail && Date.now() < up.submittedAt + up.durationMs + up.noVideoMs ? g : null;
    });
    expect(mid).toMatchObject({ state: 'processing', video: null, assets: null });
    expect((await s.call('GET', `/v1/tasks/${body.id}`)).body).toMatchObject({ status: 'running', output: null });
    const done = await lumaUntil(s.call, body.id, ['completed', 'failed']);
    expect(done.video.url).toBe(`${s.sim.url}/sim/luma/${up.id}-video.mp4`);
  });

  it('fails a generation that stays completed without a video URL after UPSTREAM_TASK_TIMEOUT_SECONDS', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'never a link --sim-novideo' } });
    const done = await lumaUntil(s.call, body.id, ['failed', 'completed']);
    expect(done).toMatchObject({ state: 'failed', video: null, failure_reason: 'upstream made no progress for 2 s' });
    expect((await s.call('GET', `/v1/tasks/${body.id}`)).body.error).toMatchObject({ type: 'timeout', code: 'upstream_timeout' });
  });

  it('relays an upstream failure with its reason', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'doomed --sim-fail' } });
    const done = await lumaUntil(s.call, body.id, ['failed', 'completed']);
    expect(done.failure_reason).toBe('Your prompt was flagged by our content moderation');
    expect((await s.call('GET', `/v1/tasks/${body.id}`)).body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_failed', message: 'Your prompt was flagged by our content moderation' });
  });

  it('fails at once, with the upstream’s reason, a generation completed without a video but with a failure_reason', async () => {
    simLuma(s).reshape = (g) => (g.state === 'completed' ? { ...g, video: null, assets: null, failure_reason: 'nsfw detected' } : g);
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'moderated at the end' } });
    const done = await lumaUntil(s.call, body.id, ['failed', 'completed']);
    expect(done).toMatchObject({ state: 'failed', failure_reason: 'nsfw detected' });
    expect((await s.call('GET', `/v1/tasks/${body.id}`)).body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_failed', message: 'nsfw detected' });
  });

  it('fails a generation whose reads the upstream keeps answering with an error about it, with that error, before the no-progress timeout', async () => {
    const prompt = 'refused reads --sim-ms 20000';
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: prompt } });
    await upstreamOf(s, prompt);
    s.sim.faults.add({ route: 'luma-fetch', kind: 'body', body: { code: 500, message: 'generation failed: nsfw', data: null } });
    const done = await lumaUntil(s.call, body.id, ['failed', 'completed']);
    expect(done).toMatchObject({ state: 'failed', failure_reason: 'generation failed: nsfw' });
    expect((await s.call('GET', `/v1/tasks/${body.id}`)).body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_read_failed' });
  });

  it('fails a generation the upstream stops reporting', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'vanishing --sim-lost' } });
    const done = await lumaUntil(s.call, body.id, ['failed', 'completed']);
    expect(done.failure_reason).toMatch(/^upstream no longer reports this task/);
    expect(await s.redis.hexists(`${s.config.QUEUE_PREFIX}:{luma}:inflight`, body.id)).toBe(0);
  });

  it('keeps following a generation through failed, malformed and error-bodied polls', async () => {
    s.sim.faults.add({ route: 'luma-fetch', kind: 'status', status: 502, times: 2 });
    s.sim.faults.add({ route: 'luma-fetch', kind: 'malformed', times: 2 });
    s.sim.faults.add({ route: 'luma-fetch', kind: 'body', body: { detail: { reason: 'cookie expired', code: 1 } }, times: 2 });
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'survives polls' } });
    expect((await lumaUntil(s.call, body.id, ['completed', 'failed'])).state).toBe('completed');
  });

  it('reads the odd shapes relays answer: a bare task_id, wrapped fetches, nulls, the video under artifact', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'odd relay --sim-odd' } });
    const done = await lumaUntil(s.call, body.id, ['completed', 'failed']);
    const up = await upstreamOf(s, 'odd relay --sim-odd');
    expect(done).toMatchObject({ state: 'completed', prompt: 'odd relay --sim-odd', video: { url: `${s.sim.url}/sim/luma/${up.id}-video.mp4`, width: 1360, height: 752 } });
  });

  it('retries a submit the upstream answered 503, and ends one it refused with its reason', async () => {
    s.sim.faults.add({ route: 'luma-submit', kind: 'status', status: 503, times: 1 });
    const retried = await s.call('POST', '/luma/generations', { body: { user_prompt: 'second try' } });
    expect((await lumaUntil(s.call, retried.body.id, ['completed', 'failed'])).state).toBe('completed');
    s.sim.faults.add({ route: 'luma-submit', kind: 'status', status: 400, times: 1, body: { detail: { reason: 'prompt is not allowed', code: 1 } } });
    const refused = await s.call('POST', '/luma/generations', { body: { user_prompt: 'refused' } });
    expect(await lumaUntil(s.call, refused.body.id, ['failed', 'completed'])).toMatchObject({ state: 'failed', failure_reason: 'prompt is not allowed' });
  });

  it('delivers signed generic webhooks for X-Webhook-Url, each body fixed when its change happened', async () => {
    rx = await startReceiver();
    const secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'hooked' }, headers: { 'x-webhook-url': rx.url } });
    await waitFor(async () => rx!.received.some((x) => x.body?.type === 'task.succeeded'), { what: 'task.succeeded' });
    const events = rx.received.map((x) => new Webhook(secret).verify(x.raw, { 'webhook-id': String(x.headers['webhook-id']), 'webhook-timestamp': String(x.headers['webhook-timestamp']), 'webhook-signature': String(x.headers['webhook-signature']) }) as any);
    expect(events[0]).toMatchObject({ type: 'task.started', data: { id: body.id, kind: 'luma.generation', status: 'running', output: null } });
    expect(events.at(-1)).toMatchObject({ type: 'task.succeeded', data: { status: 'succeeded', output: { video_url: expect.stringContaining('/sim/luma/'), width: 1360 } } });
  });

  it('posts the generation object to a notify_hook on every change', async () => {
    rx = await startReceiver();
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'notified', notify_hook: rx.url } });
    await waitFor(async () => rx!.received.some((x) => x.body?.state === 'completed'), { what: 'the completed generation' });
    expect(rx.received.map((x) => x.body.state)).toContain('pending');
    expect(rx.received.at(-1)!.body).toMatchObject({ id: body.id, state: 'completed', video: { url: expect.stringContaining('/sim/luma/') } });
    expect(rx.received.every((x) => x.headers['webhook-signature'])).toBe(true);
  });

  it('streams the task’s changes as server-sent events', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'streamed' } });
    const events = await readSse(`${s.api.url}/v1/tasks/${body.id}/events`, { authorization: `Bearer ${KEYS.acme}` }, (e) => e.event === 'done');
    expect(events.filter((e) => e.event === 'status').map((e) => e.data.status)).toEqual(expect.arrayContaining(['running', 'succeeded']));
    expect(events.find((e) => e.event === 'output')!.data.output.video_url).toContain('/sim/luma/');
  });

  it('shows the generation in /v1/tasks with its video as output and content', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'listed' } });
    const done = await lumaUntil(s.call, body.id, ['completed']);
    const t = (await s.call('GET', `/v1/tasks/${body.id}`)).body;
    expect(t).toMatchObject({ kind: 'luma.generation', status: 'succeeded', progress: 100, output: { video_url: done.video.url, download_url: done.video.download_url, thumbnail_url: done.thumbnail.url, last_frame_url: done.last_frame.url, width: 1360, height: 752 } });
    expect((await s.call('GET', '/v1/tasks?kind=luma.generation&limit=100')).body.data.map((x: any) => x.id)).toContain(body.id);
    const content = await fetch(`${s.api.url}/v1/tasks/${body.id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` }, redirect: 'manual' });
    expect([content.status, content.headers.get('location')]).toEqual([302, done.video.download_url]);
    expect((await s.call('GET', `/luma/generations/${body.id}/download_video_url`)).body).toEqual({ url: done.video.download_url });
  });

  it('cancels a running generation: the task ends canceled, reads failed, and is no longer followed', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'forever --sim-stuck' } });
    await lumaUntil(s.call, body.id, ['processing']);
    const r = await s.call('POST', `/v1/tasks/${body.id}/cancel`);
    expect(r.body).toMatchObject({ status: 'canceled', error: { type: 'canceled', message: 'canceled by client' } });
    expect((await s.call('GET', `/luma/generations/${body.id}`)).body).toMatchObject({ state: 'failed', failure_reason: 'canceled by client', video: null });
    expect(await s.redis.hexists(`${s.config.QUEUE_PREFIX}:{luma}:inflight`, body.id)).toBe(0);
    expect((await s.call('POST', `/v1/tasks/${body.id}/cancel`)).status).toBe(409);
  });

  it('cancels a generation still waiting for a worker, and never submits it', async () => {
    await s.stopWorkers();
    try {
      const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'never sent' } });
      expect((await s.call('POST', `/v1/tasks/${body.id}/cancel`)).body.status).toBe('canceled');
    } finally {
      await s.startWorker();
    }
    const after = await s.call('POST', '/luma/generations', { body: { user_prompt: 'sent after' } });
    await lumaUntil(s.call, after.body.id, ['completed']);
    expect([...simLuma(s).generations.values()].some((g) => g.prompt === 'never sent')).toBe(false);
  });

  it('shows a generation to its own tenant only: 404 for anyone else, everywhere', async () => {
    const { body } = await s.call('POST', '/luma/generations', { body: { user_prompt: 'private' } });
    await lumaUntil(s.call, body.id, ['completed']);
    const other = { key: KEYS.beta };
    for (const [method, path] of [
      ['GET', `/luma/generations/${body.id}`],
      ['GET', `/luma/v1/generations/${body.id}`],
      ['GET', `/luma/generations/${body.id}/download_video_url`],
      ['POST', `/luma/generations/${body.id}/extend`],
      ['GET', `/v1/tasks/${body.id}`],
      ['POST', `/v1/tasks/${body.id}/cancel`],
    ] as const) {
      const r = await s.call(method, path, { ...other, ...(method === 'POST' ? { body: {} } : {}) });
      expect([path, r.status]).toEqual([path, 404]);
    }
    const r = await s.call('GET', `/luma/generations/${body.id}`, other);
    expect(r.body).toMatchObject({ detail: { reason: expect.stringMatching(/^generation not found/), code: 1 }, error: { type: 'not_found_error' } });
    expect((await s.call('GET', `/luma/generations/${body.id}`, { key: KEYS.admin })).body.id).toBe(body.id);
  });

  it('answers a repeated Idempotency-Key with the first generation and submits it upstream once', async () => {
    const headers = { 'idempotency-key': `luma-${Date.now()}` };
    const a = await s.call('POST', '/luma/generations', { body: { user_prompt: 'only once' }, headers });
    const b = await s.call('POST', '/luma/generations', { body: { user_prompt: 'only once' }, headers });
    expect([a.status, b.status, b.body.id]).toEqual([200, 200, a.body.id]);
    await lumaUntil(s.call, a.body.id, ['completed']);
    expect([...simLuma(s).generations.values()].filter((g) => g.prompt === 'only once')).toHaveLength(1);
  });
});
