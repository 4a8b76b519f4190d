import { createHash } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simVideoBytes, type SimVideo, type SimVideoHandle } from '../../sim/video.js';
import { KEYS, PNG, startStack, waitFor, type Stack } from '../support/stack.js';

/** The official `openai` SDK's `videos` resource, pointed at relayq, with the simulator as upstream. */
describe('OpenAI videos through relayq', () => {
  let s: Stack;
  let client: OpenAI;
  let sim: SimVideoHandle;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 500 } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    sim = s.sim.handles.video as SimVideoHandle;
  });
  afterEach(() => {
    s.sim.faults.clear();
    sim.contentGate = null;
  });
  afterAll(() => s.close());

  /** The simulator's video made for this prompt (the upstream side of a relayq video). */
  const upstreamOf = (prompt: string): SimVideo => [...sim.videos.values()].find((v) => v.prompt === prompt)!;
  const until = (id: string, statuses: string[], c = client) =>
    waitFor(
      async () => {
        const v = await c.videos.retrieve(id);
        return statuses.includes(v.status) ? v : null;
      },
      { what: `video ${id} to be ${statuses.join('|')}` },
    );
  const task = async (id: string, key = KEYS.acme) => (await s.call('GET', `/v1/tasks/${id}`, { key })).body;

  it('creates a video, reports progress while the upstream renders it, and completes it', async () => {
    const { data: created, response } = await client.videos.create({ prompt: 'a calico cat playing piano', model: 'sora-2', seconds: '8', size: '1280x720' }).withResponse();
    expect(created).toMatchObject({ object: 'video', model: 'sora-2', seconds: '8', size: '1280x720', prompt: 'a calico cat playing piano', remixed_from_video_id: null, error: null, completed_at: null });
    expect(created.id).toMatch(/^video_[0-9A-Za-z]{20}$/);
    expect(['queued', 'in_progress']).toContain(created.status);
    expect(response.headers.get('openai-poll-after-ms')).toBe('50');
    expect(response.headers.get('x-relayq-task-id')).toBe(created.id);
    const seen = new Set<number>();
    const done = await waitFor(async () => {
      const { data: v, response: r } = await client.videos.retrieve(created.id).withResponse();
      if (v.status !== 'completed') {
        expect(r.headers.get('openai-poll-after-ms')).toBe('50');
        seen.add(v.progress);
      }
      return v.status === 'completed' ? v : null;
    });
    expect([...seen].some((p) => p > 0 && p < 100)).toBe(true);
    expect(done).toMatchObject({ id: created.id, status: 'completed', progress: 100, error: null, seconds: '8', size: '1280x720' });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.expires_at).toBeGreaterThan(done.completed_at!);
    // The upstream got the SDK's multipart body as sent, with the channel's key, not the client's.
    const up = upstreamOf('a calico cat playing piano');
    expect(up.request.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(up.request.fields).toEqual({ prompt: 'a calico cat playing piano', model: 'sora-2', seconds: '8', size: '1280x720' });
    expect(up.account).toBe('sk-upstream-0123456789');
    expect(await task(created.id)).toMatchObject({ kind: 'video.generation', status: 'succeeded', progress: 100, output: { id: created.id, object: 'video', status: 'completed' } });
  });

  it('paces a poller with openai-poll-after-ms until the video is done (the Python SDK create_and_poll loop)', async () => {
    // openai-node 6.30.1 has no videos.createAndPoll; this is openai-python's helper: it sleeps for
    // the header's milliseconds (else 1000) between retrieves while the video is queued or in progress.
    const waits: number[] = [];
    let { data: v, response } = await client.videos.create({ prompt: 'paced' }).withResponse();
    while (v.status === 'queued' || v.status === 'in_progress') {
      const ms = Number(response.headers.get('openai-poll-after-ms') ?? 1000);
      waits.push(ms);
      await new Promise((r) => setTimeout(r, ms));
      ({ data: v, response } = await client.videos.retrieve(v.id, { headers: { 'X-Stainless-Poll-Helper': 'true' } }).withResponse());
    }
    expect(v.status).toBe('completed');
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((ms) => ms === 50)).toBe(true);
    expect(response.headers.get('openai-poll-after-ms')).toBeNull();
  });

  it('downloads each variant with the content type and length the upstream gave', async () => {
    const v = await client.videos.create({ prompt: 'variants' });
    await until(v.id, ['completed']);
    const up = upstreamOf('variants');
    for (const [variant, type, length] of [
      ['video', 'video/mp4', 256 * 1024],
      ['thumbnail', 'image/webp', 2048],
      ['spritesheet', 'image/jpeg', 8192],
    ] as const) {
      const res = await client.videos.downloadContent(v.id, variant === 'video' ? {} : { variant });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('content-length')).toBe(String(length));
      expect(Buffer.from(await res.arrayBuffer()).equals(simVideoBytes(up.id, variant, length))).toBe(true);
    }
    // The generic task view points at the same bytes.
    const viaTask = await fetch(`${s.api.url}/v1/tasks/${v.id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(viaTask.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await viaTask.arrayBuffer()).equals(simVideoBytes(up.id, 'video', 256 * 1024))).toBe(true);
  });

  it('streams a large video through while the upstream is still sending it', async () => {
    const size = 8_000_000;
    const v = await client.videos.create({ prompt: `large --sim-bytes ${size}` });
    await until(v.id, ['completed']);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    sim.contentGate = () => held;
    const finishedBefore = sim.contentFinished;
    const res = await client.videos.downloadContent(v.id);
    expect(res.headers.get('content-length')).toBe(String(size));
    const reader = res.body!.getReader();
    const hash = createHash('sha256');
    let received = 0;
    // The first bytes arrive while the upstream holds the rest back: relayq did not wait for the whole body.
    while (received === 0) {
      const { value } = await reader.read();
      received += value!.length;
      hash.update(value!);
    }
    expect(sim.contentFinished).toBe(finishedBefore);
    expect(received).toBeLessThan(size);
    release();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      hash.update(value);
    }
    expect(received).toBe(size);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(simVideoBytes(upstreamOf(`large --sim-bytes ${size}`).id, 'video', size)).digest('hex'));
  });

  it('forwards a Range request and answers 206 with the upstream content range', async () => {
    const v = await client.videos.create({ prompt: 'ranged' });
    await until(v.id, ['completed']);
    const res = await fetch(`${s.api.url}/v1/videos/${v.id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}`, range: 'bytes=100-199' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-199/${256 * 1024}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(simVideoBytes(upstreamOf('ranged').id, 'video', 256 * 1024).subarray(100, 200))).toBe(true);
  });

  it('fails a video the upstream fails, with the upstream error code and message', async () => {
    const v = await client.videos.create({ prompt: 'blocked --sim-fail' });
    const failed = await until(v.id, ['failed']);
    expect(failed.error).toEqual({ code: 'moderation_blocked', message: 'Your request was blocked by our moderation system.' });
    expect(failed.completed_at).not.toBeNull();
    expect(await task(v.id)).toMatchObject({ status: 'failed', error: { type: 'upstream_error', code: 'moderation_blocked' } });
    const content = await s.call('GET', `/v1/videos/${v.id}/content`);
    expect(content.status).toBe(400);
    expect(content.body.error).toMatchObject({ type: 'invalid_request_error', param: 'video_id' });
  });

  it('answers a create the upstream refuses with the upstream error, as a direct call would', async () => {
    const err = await client.videos.create({ prompt: 'odd size', size: '999x999' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: 'size', code: 'invalid_value' });
    const list = (await s.call('GET', '/v1/tasks?kind=video.generation&status=failed')).body.data;
    expect(list.some((t: any) => t.id === (err as InstanceType<typeof OpenAI.BadRequestError>).headers?.get('x-relayq-task-id'))).toBe(true);
  });

  it('sends a JSON seconds given as a number as the text the API types ("8"), the rest of the body as it came', async () => {
    // The upstream (OpenAI, and the simulator like it) refuses `"seconds": 8` as invalid_type.
    const body = { prompt: 'numeric seconds', seconds: 8, size: '1280x720', extra_field: { kept: [1, 2.5] } };
    const r = await s.call('POST', '/v1/videos', { body });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ object: 'video', seconds: '8', size: '1280x720' });
    expect(upstreamOf('numeric seconds').request).toMatchObject({ contentType: 'application/json', fields: { ...body, seconds: '8' } });
    expect(Object.keys(upstreamOf('numeric seconds').request.fields)).toEqual(['prompt', 'seconds', 'size', 'extra_field']);
  });

  it('sends a JSON create as it came, input_reference URL included', async () => {
    const body = { prompt: 'from json', input_reference: 'https://example.com/ref.png', extra_field: { kept: true } };
    const r = await s.call('POST', '/v1/videos', { body });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ object: 'video', prompt: 'from json', model: 'sora-2', seconds: '4', size: '720x1280' });
    expect(upstreamOf('from json').request).toMatchObject({ contentType: 'application/json', fields: body });
  });

  it('sends an input_reference file in the multipart body byte for byte', async () => {
    const png = await toFile(Buffer.from(PNG.split(',')[1]!, 'base64'), 'ref.png', { type: 'image/png' });
    const v = await client.videos.create({ prompt: 'with a reference', input_reference: png });
    expect(v.status).not.toBe('failed');
    expect(upstreamOf('with a reference').request.files).toEqual({ input_reference: { filename: 'ref.png', bytes: 70 } });
    // The object form travels as bracketed fields, passed on as they came.
    await client.videos.create({ prompt: 'with a reference url', input_reference: { image_url: 'https://example.com/ref.png' } });
    expect(upstreamOf('with a reference url').request.fields).toEqual({ prompt: 'with a reference url', 'input_reference[image_url]': 'https://example.com/ref.png' });
  });

  it('reads the spellings relays answer in (task_id only, wrapped objects, processing, "42%", numeric seconds)', async () => {
    const v = await client.videos.create({ prompt: 'relay spelling --sim-odd', seconds: '8' });
    const seen = new Set<string>();
    const done = await waitFor(async () => {
      const r = await client.videos.retrieve(v.id);
      seen.add(`${r.status}:${r.progress > 0 && r.progress < 100}`);
      return r.status === 'completed' ? r : null;
    });
    expect(seen.has('in_progress:true')).toBe(true);
    expect(done).toMatchObject({ seconds: '8', progress: 100, error: null });
    expect(typeof done.expires_at).toBe('number');
    expect((await task(v.id)).output.video_url).toMatch(/\/sim\/video\/video_[0-9a-f]{32}\.mp4$/);
  });

  it('keeps following through malformed and failing upstream reads, and retries a 5xx at create', async () => {
    s.sim.faults.add({ route: 'video.create', kind: 'status', status: 503, times: 1 });
    s.sim.faults.add({ route: 'video.retrieve', kind: 'malformed', times: 3 });
    s.sim.faults.add({ route: 'video.retrieve', kind: 'status', status: 500, times: 3 });
    const v = await client.videos.create({ prompt: 'bumpy road' });
    expect(v.status).not.toBe('failed');
    expect(await until(v.id, ['completed'])).toMatchObject({ status: 'completed' });
    expect((await task(v.id, KEYS.admin)).channel_attempts.map((a: any) => a.outcome)).toEqual(['failed', 'succeeded']);
  });

  it('fails a create whose upstream answer is malformed, without a second upstream video', async () => {
    s.sim.faults.add({ route: 'video.create', kind: 'malformed', times: 1 });
    const before = sim.videos.size;
    const err = await client.videos.create({ prompt: 'garbled' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(sim.videos.size).toBe(before);
  });
});
