import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimSuno } from '../../sim/suno.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { readSse } from '../support/sse.js';
import { KEYS, startStack, waitFor, type Call, type Stack } from '../support/stack.js';

/** Fetches a Suno task until its status is one of `statuses`; returns the task object. */
async function sunoUntil(call: Call, id: string, statuses: string[], key?: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const r = await call('GET', `/suno/fetch/${id}`, { key });
      return statuses.includes(r.body?.data?.status) ? r.body.data : null;
    },
    { timeoutMs, what: `Suno task ${id} to reach ${statuses.join('|')}` },
  );
}

const simSuno = (s: Stack) => s.sim.handles.suno as SimSuno;
/** The simulator's task made for a prompt (the upstream side of a relayq task). */
const upstreamOf = (s: Stack, prompt: string) => [...simSuno(s).tasks.values()].find((t) => t.request.prompt === prompt);

describe('Suno music and lyrics', () => {
  let s: Stack;
  let rx: Receiver | undefined;
  beforeAll(async () => {
    s = await startStack({
      sim: { sunoDurationMs: 700 },
      env: { UPSTREAM_TASK_TIMEOUT_SECONDS: '2', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20', PUBLIC_URL: 'https://relay.example.com' },
    });
  });
  afterEach(async () => {
    await rx?.close();
    rx = undefined;
  });
  afterAll(() => s.close());

  it('submits music and follows it to SUCCESS by polling, answering new-api task objects with the upstream clips', async () => {
    const before = Date.now();
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: '[Verse]\nnight drive', tags: 'synthwave', title: 'Night Drive', mv: 'chirp-v3-5', make_instrumental: false } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ code: 'success', message: '', data: expect.stringMatching(/^suno_[0-9A-Za-z]{20}$/) });
    const id: string = r.body.data;
    expect(r.headers.get('x-relayq-task-id')).toBe(id);
    const seen = new Set<string>();
    const done = await waitFor(async () => {
      const t = (await s.call('GET', `/suno/fetch/${id}`)).body.data;
      seen.add(t.status);
      return t.status === 'SUCCESS' ? t : null;
    });
    expect(seen).toContain('IN_PROGRESS');
    expect(done).toMatchObject({ task_id: id, action: 'MUSIC', status: 'SUCCESS', fail_reason: '', progress: '100%' });
    expect(done.submit_time).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(done.finish_time).toBeGreaterThanOrEqual(done.start_time);
    expect(done.start_time).toBeGreaterThanOrEqual(done.submit_time);
    expect(done.data).toHaveLength(2);
    for (const clip of done.data) expect(clip).toMatchObject({ status: 'complete', audio_url: expect.stringMatching(/\.mp3$/), video_url: expect.stringMatching(/\.mp4$/), metadata: { tags: 'synthwave' } });
    // The upstream got the body as sent, and its own task id never reaches the client.
    const upstream = upstreamOf(s, '[Verse]\nnight drive')!;
    expect(upstream.request).toEqual({ prompt: '[Verse]\nnight drive', tags: 'synthwave', title: 'Night Drive', mv: 'chirp-v3-5', make_instrumental: false });
    expect(upstream.clipIds).toEqual(done.data.map((c: { id: string }) => c.id));
    expect(JSON.stringify(done)).not.toContain(upstream.id);

    const generic = (await s.call('GET', `/v1/tasks/${id}`)).body;
    expect(generic).toMatchObject({ id, kind: 'suno.music', status: 'succeeded', progress: 100, error: null });
    expect(generic.output.clips).toEqual(done.data.map((c: any) => ({ id: c.id, status: 'complete', title: 'Night Drive', audio_url: c.audio_url, video_url: c.video_url, image_url: c.image_url, image_large_url: c.image_large_url, model_name: 'chirp-v3', major_model_version: 'chirp-v3-5', created_at: c.created_at, duration: 151.42, tags: 'synthwave' })));
    const content = await fetch(`${s.api.url}/v1/tasks/${id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` }, redirect: 'manual' });
    expect(content.status).toBe(302);
    expect(content.headers.get('location')).toBe(done.data[0].audio_url);
  });

  it('accepts the action in upper case, as new-api calls its Suno upstream', async () => {
    const r = await s.call('POST', '/suno/submit/MUSIC', { body: { gpt_description_prompt: 'a calm piano piece' } });
    expect(r.body.code).toBe('success');
    await sunoUntil(s.call, r.body.data, ['SUCCESS']);
  });

  it('generates lyrics: a LYRICS task whose data is the lyrics object', async () => {
    const r = await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'a song about the sea' } });
    const done = await sunoUntil(s.call, r.body.data, ['SUCCESS']);
    expect(done).toMatchObject({ action: 'LYRICS', status: 'SUCCESS', data: { status: 'complete', title: 'Simulated Lyrics', text: expect.stringContaining('a song about the sea') } });
    const generic = (await s.call('GET', `/v1/tasks/${r.body.data}`)).body;
    expect(generic).toMatchObject({ kind: 'suno.lyrics', status: 'succeeded', output: { lyrics: { title: 'Simulated Lyrics', text: done.data.text } } });
    expect(s.sim.requests.some((x) => x.path === '/suno/submit/lyrics')).toBe(true);
  });

  it('reads a batch with POST /suno/fetch: the caller’s Suno tasks, unknown, foreign and other-family ids left out', async () => {
    const mine = (await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'batch one' } })).body.data;
    const theirs = (await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'batch two' }, key: KEYS.beta })).body.data;
    const mj = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'not suno' } })).body.result;
    const r = await s.call('POST', '/suno/fetch', { body: { ids: [mine, theirs, mj, 'suno_AAAAAAAAAAAAAAAAAAAA', 'nonsense', mine], action: 'LYRICS' } });
    expect(r.status).toBe(200);
    expect(r.body.code).toBe('success');
    expect(r.body.data.map((t: { task_id: string }) => t.task_id)).toEqual([mine]);
  });

  it('posts the generic webhook body for X-Webhook-Url, signed, started first and succeeded last', async () => {
    rx = await startReceiver();
    const secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'hooked song' }, headers: { 'x-webhook-url': rx.url } });
    await waitFor(async () => rx!.received.some((x) => x.body?.type === 'task.succeeded'), { what: 'task.succeeded' });
    for (const x of rx.received) new Webhook(secret).verify(x.raw, { 'webhook-id': String(x.headers['webhook-id']), 'webhook-timestamp': String(x.headers['webhook-timestamp']), 'webhook-signature': String(x.headers['webhook-signature']) });
    const types = rx.received.map((x) => x.body.type);
    expect(types[0]).toBe('task.started');
    expect(types.at(-1)).toBe('task.succeeded');
    expect(types.filter((t) => t === 'task.succeeded')).toHaveLength(1);
    const done = rx.received.at(-1)!.body.data;
    expect(done).toMatchObject({ id: r.body.data, kind: 'suno.music', status: 'succeeded', output: { clips: [{ status: 'complete' }, { status: 'complete' }] } });
    expect(done.urls.get).toBe(`https://relay.example.com/v1/tasks/${r.body.data}`);
  });

  it('posts the Suno task object to notify_hook, signed, SUCCESS last', async () => {
    rx = await startReceiver();
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'notify me', notify_hook: rx.url } });
    await waitFor(async () => rx!.received.some((x) => x.body?.status === 'SUCCESS'), { what: 'the SUCCESS callback' });
    expect(rx.received.map((x) => x.body.task_id)).toEqual(rx.received.map(() => r.body.data));
    expect(rx.received.every((x) => String(x.headers['webhook-signature']).startsWith('v1,'))).toBe(true);
    expect(rx.received.at(-1)!.body).toMatchObject({ action: 'MUSIC', status: 'SUCCESS', progress: '100%', data: [{ status: 'complete' }, { status: 'complete' }] });
    // The hook is relayq's to call: the upstream never saw it.
    expect(upstreamOf(s, 'notify me')!.request).toEqual({ prompt: 'notify me' });
  });

  it('streams SSE events: status, progress, the clips as output, then done', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'sse song' } });
    const events = await readSse(`${s.api.url}/v1/tasks/${r.body.data}/events`, { authorization: `Bearer ${KEYS.acme}` }, (e) => e.event === 'done');
    expect(events.filter((e) => e.event === 'progress').map((e) => e.data.progress)).toContain(100);
    const output = events.find((e) => e.event === 'output')!;
    expect(output.data.output.clips).toHaveLength(2);
    expect(events.at(-1)!.data).toMatchObject({ id: r.body.data, status: 'succeeded' });
  });

  it('cancels a running task: FAILURE "canceled by client" for Suno clients, canceled in /v1/tasks, and no longer followed', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'cancel me --sim-ms 20000' } });
    const id = r.body.data;
    await sunoUntil(s.call, id, ['SUBMITTED', 'QUEUED', 'IN_PROGRESS']);
    const c = await s.call('POST', `/v1/tasks/${id}/cancel`);
    expect(c.body).toMatchObject({ status: 'canceled', error: { message: 'canceled by client' } });
    expect((await s.call('GET', `/suno/fetch/${id}`)).body.data).toMatchObject({ status: 'FAILURE', fail_reason: 'canceled by client', progress: '100%' });
    expect(await s.redis.hexists(`${s.config.QUEUE_PREFIX}:{suno}:inflight`, id)).toBe(0);
    // A task still running keeps the tracker polling: the canceled one is no longer asked for.
    const other = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'keeps polling --sim-ms 20000' } })).body.data;
    const [canceled, running] = [upstreamOf(s, 'cancel me --sim-ms 20000')!.id, await waitFor(async () => upstreamOf(s, 'keeps polling --sim-ms 20000')?.id)];
    const from = s.sim.requests.length;
    const polls = () => s.sim.requests.slice(from).filter((x) => x.path === '/suno/fetch');
    await waitFor(async () => polls().filter((x) => JSON.stringify(x.body).includes(running)).length >= 3, { what: 'three polls of the running task' });
    expect(polls().some((x) => JSON.stringify(x.body).includes(canceled))).toBe(false);
    await s.call('POST', `/v1/tasks/${other}/cancel`);
  });

  it('relays an upstream failure with the reason from the clip', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'doomed --sim-fail' } });
    const done = await sunoUntil(s.call, r.body.data, ['FAILURE']);
    expect(done).toMatchObject({ status: 'FAILURE', progress: '100%', fail_reason: expect.stringContaining('terms of service') });
    expect(done.data.map((c: { status: string }) => c.status)).toEqual(['error', 'error']);
    expect((await s.call('GET', `/v1/tasks/${r.body.data}`)).body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_failed' });
  });

  it('fails a task the upstream stops reporting', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'vanishing --sim-lost --sim-ms 400' } });
    const done = await sunoUntil(s.call, r.body.data, ['FAILURE'], undefined, 10_000);
    expect(done.fail_reason).toMatch(/^upstream no longer reports this task/);
    expect((await s.call('GET', `/v1/tasks/${r.body.data}`)).body.error).toMatchObject({ type: 'timeout', code: 'upstream_lost' });
  });

  it('fails a task whose upstream makes no progress for UPSTREAM_TASK_TIMEOUT_SECONDS', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'frozen --sim-stuck' } });
    const done = await sunoUntil(s.call, r.body.data, ['FAILURE'], undefined, 10_000);
    expect(done.fail_reason).toBe('upstream made no progress for 2 s');
  });

  it('keeps tenants apart: another tenant gets 404 in Suno’s envelope everywhere, and cannot extend the clip', async () => {
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: 'private song' } });
    const id = r.body.data;
    const done = await sunoUntil(s.call, id, ['SUCCESS']);
    const fetched = await s.call('GET', `/suno/fetch/${id}`, { key: KEYS.beta });
    expect(fetched.status).toBe(404);
    expect(fetched.body).toEqual({ code: 'task_not_exist', message: expect.stringContaining(id), data: null });
    expect((await s.call('POST', '/suno/fetch', { body: { ids: [id] }, key: KEYS.beta })).body.data).toEqual([]);
    expect((await s.call('GET', `/v1/tasks/${id}`, { key: KEYS.beta })).status).toBe(404);
    expect((await s.call('POST', `/v1/tasks/${id}/cancel`, { key: KEYS.beta })).status).toBe(404);
    const extend = await s.call('POST', '/suno/submit/music', { key: KEYS.beta, body: { prompt: 'steal', continue_clip_id: done.data[0].id, task_id: id, continue_at: 30 } });
    expect(extend.status).toBe(404);
    expect(extend.body.code).toBe('task_not_exist');
  });

  it('answers a repeated Idempotency-Key with the first task, submitting upstream once', async () => {
    const send = () => s.call('POST', '/suno/submit/music', { body: { prompt: 'only once' }, headers: { 'idempotency-key': 'suno-once-1' } });
    const [a, b] = [await send(), await send()];
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    await sunoUntil(s.call, a.body.data, ['SUCCESS']);
    expect([...simSuno(s).tasks.values()].filter((t) => t.request.prompt === 'only once')).toHaveLength(1);
  });

  it('says Preference-Applied: respond-async (the submit is asynchronous anyway)', async () => {
    const r = await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'async please' }, headers: { prefer: 'respond-async' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('preference-applied')).toBe('respond-async');
  });
});

describe('Suno validation', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { sunoDurationMs: 300 } });
  });
  afterAll(() => s.close());

  const raw = (path: string, body: string) => s.call('POST', path, { body, headers: { 'content-type': 'application/json' } });

  it.each([
    ['lyrics without a prompt', '/suno/submit/lyrics', {}, 'prompt: is required'],
    ['lyrics with a blank prompt', '/suno/submit/lyrics', { prompt: '   ' }, 'prompt: must not be blank'],
    ['music that asks for nothing', '/suno/submit/music', { mv: 'chirp-v3-5', make_instrumental: true }, 'prompt: is required'],
    ['a numeric prompt', '/suno/submit/music', { prompt: 5 }, 'prompt: must be a string'],
    ['make_instrumental "yes"', '/suno/submit/music', { prompt: 'x', make_instrumental: 'yes' }, 'make_instrumental: must be true or false'],
    ['continue_at "soon"', '/suno/submit/music', { prompt: 'x', continue_at: 'soon' }, 'continue_at: must be a number of seconds'],
    ['a negative continue_at', '/suno/submit/music', { prompt: 'x', continue_at: -3 }, 'continue_at: must be 0 or more'],
    ['continue_clip_id without task_id', '/suno/submit/music', { prompt: 'x', continue_clip_id: 'clip-1' }, 'task_id: is required with continue_clip_id'],
    ['notify_hook that is not a URL', '/suno/submit/music', { prompt: 'x', notify_hook: 'call me' }, 'notify_hook: must be an http(s) URL'],
    ['a body that is an array', '/suno/submit/music', [{ prompt: 'x' }], 'body: must be a JSON object'],
    ['an unknown action', '/suno/submit/video', { prompt: 'x' }, 'action: must be music or lyrics'],
    ['a fetch without ids', '/suno/fetch', {}, 'ids: is required'],
    ['a fetch whose ids are a string', '/suno/fetch', { ids: 'suno_1' }, 'ids: must be an array of task ids'],
  ])('refuses %s with 400 in Suno’s envelope, naming the field', async (_what, path, body, message) => {
    const before = simSuno(s).tasks.size;
    const r = await s.call('POST', path, { body });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ code: 'invalid_request', message: expect.stringContaining(message), data: null });
    expect(r.body.message.startsWith(message.split(':')[0]!)).toBe(true);
    expect(simSuno(s).tasks.size).toBe(before);
  });

  it('refuses a body that is not JSON, and bad headers, in Suno’s envelope', async () => {
    const broken = await raw('/suno/submit/music', '{"prompt": "x"');
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ code: 'invalid_request', data: null });
    const hook = await s.call('POST', '/suno/submit/music', { body: { prompt: 'x' }, headers: { 'x-webhook-url': 'ftp://example.com/hook' } });
    expect(hook.body).toEqual({ code: 'invalid_request', message: expect.stringMatching(/^X-Webhook-Url: /), data: null });
    const local = await s.call('POST', '/suno/submit/music', { body: { prompt: 'x', notify_hook: 'http://127.0.0.1:9/hook' } });
    expect(local.body.message).toMatch(/^notify_hook: .*WEBHOOK_ALLOW_PRIVATE/);
    const key = await s.call('POST', '/suno/submit/music', { body: { prompt: 'x' }, headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(key.body.message).toMatch(/^Idempotency-Key: /);
    const anonymous = await s.call('GET', '/suno/fetch/suno_AAAAAAAAAAAAAAAAAAAA', { key: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ code: 'authentication_error', message: 'missing or unknown API key', data: null });
  });

  it('answers unknown ids with 404 task_not_exist, never a 5xx', async () => {
    for (const id of ['suno_AAAAAAAAAAAAAAAAAAAA', 'nonsense', 'x'.repeat(300), '%E0%A4%A']) {
      const r = await s.call('GET', `/suno/fetch/${id}`);
      expect(r.status, id).toBeLessThan(500);
      expect(r.body.data, id).toBeNull();
      expect(['task_not_exist', 'invalid_request']).toContain(r.body.code);
    }
    const orphan = await s.call('POST', '/suno/submit/music', { body: { continue_clip_id: 'clip-1', task_id: 'suno_AAAAAAAAAAAAAAAAAAAA' } });
    expect(orphan.status).toBe(404);
    expect(orphan.body).toMatchObject({ code: 'task_not_exist', message: expect.stringContaining('parent task not found') });
  });

  it('refuses to extend lyrics, a clip the task did not make, or a task that made none', async () => {
    const lyrics = (await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'words' } })).body.data;
    const song = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'a song' } })).body.data;
    await sunoUntil(s.call, song, ['SUCCESS']);
    const a = await s.call('POST', '/suno/submit/music', { body: { continue_clip_id: 'clip-1', task_id: lyrics, continue_at: 10 } });
    expect(a.body).toEqual({ code: 'invalid_request', message: expect.stringMatching(/^task_id: must name a music task/), data: null });
    const b = await s.call('POST', '/suno/submit/music', { body: { continue_clip_id: 'not-one-of-them', task_id: song, continue_at: 10 } });
    expect(b.body).toEqual({ code: 'invalid_request', message: `continue_clip_id: is not a clip of task ${song}`, data: null });
    s.sim.faults.add({ route: 'suno-submit', kind: 'status', status: 400, times: 1, body: { code: 'invalid_request', message: 'prompt contains banned words', data: null } });
    const refused = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'refused' } })).body.data;
    await sunoUntil(s.call, refused, ['FAILURE']);
    const c = await s.call('POST', '/suno/submit/music', { body: { continue_clip_id: 'clip-1', task_id: refused, continue_at: 10 } });
    expect(c.body).toEqual({ code: 'invalid_request', message: 'task_id: the task made no clips (it is FAILURE)', data: null });
  });
});
