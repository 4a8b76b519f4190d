import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimVideo, SimVideoHandle } from '../../sim/video.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { readSse } from '../support/sse.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

/** What every relayq task has, for videos: listing, deleting, canceling, delivery, tenancy, idempotency, bad input. */
describe('videos as relayq tasks', () => {
  let s: Stack;
  let acme: OpenAI;
  let beta: OpenAI;
  let sim: SimVideoHandle;
  let rx: Receiver;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 400 }, env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' } });
    acme = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    beta = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.beta, maxRetries: 0 });
    sim = s.sim.handles.video as SimVideoHandle;
    rx = await startReceiver();
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(async () => {
    await rx.close();
    await s.close();
  });

  const upstreamOf = (prompt: string): SimVideo => [...sim.videos.values()].find((v) => v.prompt === prompt)!;
  const until = (id: string, statuses: string[]) =>
    waitFor(async () => {
      const v = await acme.videos.retrieve(id);
      return statuses.includes(v.status) ? v : null;
    });
  const task = async (id: string) => (await s.call('GET', `/v1/tasks/${id}`)).body;

  it('lists videos in cursor pages, newest first and oldest first, as the SDK pages them', async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push((await s.call('POST', '/v1/videos', { body: { prompt: `listed ${n}` }, headers: { prefer: 'respond-async' } })).body.id);
    const first = (await s.call('GET', '/v1/videos?limit=2')).body;
    expect(first).toMatchObject({ object: 'list', has_more: true, first_id: ids[2], last_id: ids[1] });
    expect(first.data.map((v: any) => v.id)).toEqual([ids[2], ids[1]]);
    const all: string[] = [];
    for await (const v of acme.videos.list({ limit: 2 })) all.push(v.id);
    expect(all.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]]);
    expect(new Set(all).size).toBe(all.length);
    const ascending: string[] = [];
    for await (const v of acme.videos.list({ limit: 2, order: 'asc' })) ascending.push(v.id);
    expect(ascending).toEqual([...all].reverse());
    const after = (await s.call('GET', `/v1/videos?order=asc&after=${ids[0]}`)).body;
    expect(after.data.map((v: any) => v.id)).toEqual([ids[1], ids[2]]);
    expect(after.has_more).toBe(false);
    // Another tenant's list holds none of them.
    const theirs: string[] = [];
    for await (const v of beta.videos.list()) theirs.push(v.id);
    expect(theirs.filter((id) => ids.includes(id))).toEqual([]);
  });

  it('deletes a finished video here and on the upstream', async () => {
    const v = await acme.videos.create({ prompt: 'to be deleted' });
    await until(v.id, ['completed']);
    expect(await acme.videos.delete(v.id)).toEqual({ id: v.id, object: 'video.deleted', deleted: true });
    await expect(acme.videos.retrieve(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(acme.videos.downloadContent(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const listed: string[] = [];
    for await (const x of acme.videos.list()) listed.push(x.id);
    expect(listed).not.toContain(v.id);
    await waitFor(async () => upstreamOf('to be deleted').deleted, { what: 'the upstream copy to be deleted' });
  });

  it('deleting an unfinished video cancels it and deletes it upstream', async () => {
    const v = await acme.videos.create({ prompt: 'never ends --sim-stuck' });
    await waitFor(async () => (await task(v.id)).status === 'running');
    await acme.videos.delete(v.id);
    expect(await task(v.id)).toMatchObject({ status: 'canceled', error: { code: 'canceled' } });
    await waitFor(async () => upstreamOf('never ends --sim-stuck').deleted, { what: 'the upstream video to be deleted' });
  });

  it('a cancel through /v1/tasks shows the video failed with code canceled and stops it upstream', async () => {
    const v = await acme.videos.create({ prompt: 'cancel me --sim-stuck' });
    await waitFor(async () => (await task(v.id)).status === 'running');
    expect((await s.call('POST', `/v1/tasks/${v.id}/cancel`)).body.status).toBe('canceled');
    expect(await acme.videos.retrieve(v.id)).toMatchObject({ status: 'failed', error: { code: 'canceled', message: 'canceled by client' } });
    await waitFor(async () => upstreamOf('cancel me --sim-stuck').deleted, { what: 'the upstream video to be deleted' });
  });

  it('delivers signed webhooks and SSE events from queued to succeeded, with the video as output', async () => {
    const r = await s.call('POST', '/v1/videos', { body: { prompt: 'delivered' }, headers: { 'x-webhook-url': rx.url } });
    const id = r.body.id as string;
    const events = await readSse(`${s.api.url}/v1/tasks/${id}/events`, { authorization: `Bearer ${KEYS.acme}` }, (e) => e.event === 'done');
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress);
    expect(progress.some((p: number) => p > 0 && p < 100)).toBe(true);
    expect(events.find((e) => e.event === 'output')?.data).toMatchObject({ output: { id, object: 'video', status: 'completed', progress: 100 } });
    const mine = () => rx.received.filter((x) => x.body?.data?.id === id);
    await waitFor(async () => mine().some((x) => x.body.type === 'task.succeeded'), { what: 'task.succeeded webhook' });
    const types = mine().map((x) => x.body.type);
    expect(types[0]).toBe('task.started');
    expect(types).toContain('task.progress');
    const secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
    for (const x of mine()) new Webhook(secret).verify(x.raw, { 'webhook-id': String(x.headers['webhook-id']), 'webhook-timestamp': String(x.headers['webhook-timestamp']), 'webhook-signature': String(x.headers['webhook-signature']) });
    expect(mine().at(-1)!.body.data).toMatchObject({ kind: 'video.generation', status: 'succeeded', output: { object: 'video', status: 'completed' } });
  });

  it('hides a video from every other tenant', async () => {
    const v = await acme.videos.create({ prompt: 'private' });
    await until(v.id, ['completed']);
    await expect(beta.videos.retrieve(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(beta.videos.downloadContent(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(beta.videos.remix(v.id, { prompt: 'steal' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(beta.videos.delete(v.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await s.call('GET', `/v1/tasks/${v.id}`, { key: KEYS.beta })).status).toBe(404);
    expect((await acme.videos.retrieve(v.id)).status).toBe('completed');
  });

  it('returns the first video for a repeated Idempotency-Key, without a second upstream video', async () => {
    const headers = { 'idempotency-key': 'video-once' };
    const before = sim.videos.size;
    const a = await acme.videos.create({ prompt: 'only once' }, { headers });
    const b = await s.call('POST', '/v1/videos', { body: { prompt: 'only once' }, headers });
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.id);
    await until(a.id, ['completed']);
    expect(sim.videos.size).toBe(before + 1);
  });

  it('answers Prefer: respond-async at once with 202, and Prefer: wait=N with the finished video', async () => {
    const quick = await s.call('POST', '/v1/videos', { body: { prompt: 'async' }, headers: { prefer: 'respond-async' } });
    expect(quick.status).toBe(202);
    expect(quick.body).toMatchObject({ object: 'video', status: 'queued', progress: 0 });
    expect(quick.headers.get('location')).toBe(`/v1/videos/${quick.body.id}`);
    expect(quick.headers.get('openai-poll-after-ms')).toBe('50');
    const waited = await s.call('POST', '/v1/videos', { body: { prompt: 'waited' }, headers: { prefer: 'wait=10' } });
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ status: 'completed', progress: 100 });
    expect(waited.headers.get('openai-poll-after-ms')).toBeNull();
  });

  it('refuses bad input with a 400 naming the field, and never calls the upstream', async () => {
    const v = await acme.videos.create({ prompt: 'a parent' });
    await until(v.id, ['completed']);
    const unfinished = (await s.call('POST', '/v1/videos', { body: { prompt: 'slow --sim-stuck' } })).body.id;
    const before = s.sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/videos')).length;
    const form = (fields: Record<string, string>, file?: [string, Blob]) => {
      const f = new FormData();
      for (const [k, x] of Object.entries(fields)) f.append(k, x);
      if (file) f.append(file[0], file[1], 'empty.png');
      return f;
    };
    const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${s.api.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.acme}`, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body as string | FormData,
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const cases: [string, Promise<{ status: number; body: any }>][] = [
      ['prompt', post('/v1/videos', JSON.stringify({ model: 'sora-2' }))],
      ['prompt', post('/v1/videos', JSON.stringify({ prompt: '   ' }))],
      ['prompt', post('/v1/videos', form({ prompt: '' }))],
      ['seconds', post('/v1/videos', JSON.stringify({ prompt: 'x', seconds: true }))],
      ['size', post('/v1/videos', JSON.stringify({ prompt: 'x', size: 1280 }))],
      ['model', post('/v1/videos', JSON.stringify({ prompt: 'x', model: '' }))],
      ['input_reference', post('/v1/videos', JSON.stringify({ prompt: 'x', input_reference: 5 }))],
      ['input_reference', post('/v1/videos', form({ prompt: 'x' }, ['input_reference', new Blob([])]))],
      ['body', post('/v1/videos', '{"prompt": ')],
      ['body', post('/v1/videos', 'not a form', { 'content-type': 'multipart/form-data; boundary=zzz' })],
      ['prompt', post(`/v1/videos/${v.id}/remix`, JSON.stringify({}))],
      ['video_id', post(`/v1/videos/${unfinished}/remix`, JSON.stringify({ prompt: 'too soon' }))],
    ];
    const gets: [string, string][] = [
      ['limit', '/v1/videos?limit=0'],
      ['limit', '/v1/videos?limit=abc'],
      ['order', '/v1/videos?order=sideways'],
      ['after', `/v1/videos?after=${unfinished.slice(0, -1)}x`],
      ['variant', `/v1/videos/${v.id}/content?variant=gif`],
      ['video_id', `/v1/videos/${unfinished}/content`],
    ];
    for (const [field, path] of gets) cases.push([field, s.call('GET', path)]);
    for (const [field, pending] of cases) {
      const r = await pending;
      expect({ field, status: r.status }).toEqual({ field, status: 400 });
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: field });
      expect(r.body.error.message).toContain(field);
    }
    expect(s.sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/videos')).length).toBe(before);
    expect((await s.call('GET', '/v1/videos/video_00000000000000000000')).status).toBe(404);
    expect((await s.call('GET', '/v1/videos/not-an-id')).body.error).toMatchObject({ type: 'not_found_error' });
  });
});
