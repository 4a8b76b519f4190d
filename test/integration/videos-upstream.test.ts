import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type Sim } from '../../sim/server.js';
import { simVideoBytes, type SimVideoHandle } from '../../sim/video.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

const video = (c: OpenAI, id: string, statuses: string[]) =>
  waitFor(async () => {
    const v = await c.videos.retrieve(id);
    return statuses.includes(v.status) ? v : null;
  });

/** Upstream work that stops: a video the upstream loses, and one that makes no progress. */
describe('videos the upstream loses or stalls', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 4000 }, env: { UPSTREAM_TASK_TIMEOUT_SECONDS: '1' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterAll(() => s.close());

  it('fails a video the upstream no longer reports as lost', async () => {
    const v = await client.videos.create({ prompt: 'vanishing --sim-lost --sim-ms 400' });
    const failed = await video(client, v.id, ['failed']);
    expect(failed.error).toMatchObject({ code: 'upstream_lost', message: expect.stringMatching(/no longer reports this task/) });
    expect((await s.call('GET', `/v1/tasks/${v.id}`)).body.error).toMatchObject({ type: 'timeout', code: 'upstream_lost' });
  });

  it("takes new-api's task_not_exist refusal for a lost video", async () => {
    const v = await client.videos.create({ prompt: 'forgotten by the relay' });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${v.id}`)).body.status === 'running');
    s.sim.faults.add({ route: 'video.retrieve', kind: 'status', status: 400, body: { code: 'task_not_exist', message: 'task_not_exist', data: null } });
    try {
      expect((await video(client, v.id, ['failed'])).error).toMatchObject({ code: 'upstream_lost' });
    } finally {
      s.sim.faults.clear();
    }
  });

  it('fails a video that makes no progress for UPSTREAM_TASK_TIMEOUT_SECONDS, and stops it upstream', async () => {
    const v = await client.videos.create({ prompt: 'frozen --sim-stuck' });
    const failed = await video(client, v.id, ['failed']);
    expect(failed.error).toMatchObject({ code: 'upstream_timeout', message: 'upstream made no progress for 1 s' });
    const sim = s.sim.handles.video as SimVideoHandle;
    await waitFor(async () => [...sim.videos.values()].find((x) => x.prompt === 'frozen --sim-stuck')?.deleted, { what: 'the upstream video to be deleted' });
  });

  it('keeps a slow video that keeps progressing', async () => {
    const v = await client.videos.create({ prompt: 'slow but steady --sim-ms 2500' });
    expect(await video(client, v.id, ['completed', 'failed'])).toMatchObject({ status: 'completed' });
  });
});

/** Videos read one by one: a video whose reads fail or hang must hold none of the others back. */
describe('videos whose upstream reads fail', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 400 }, env: { UPSTREAM_TASK_TIMEOUT_SECONDS: '3', UPSTREAM_TIMEOUT_SECONDS: '1' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterAll(() => s.close());
  const upstreamOf = (prompt: string) => [...(s.sim.handles.video as SimVideoHandle).videos.values()].find((x) => x.prompt === prompt)!;

  it.each([
    ['keep failing', '--sim-readfail'],
    ['never answer', '--sim-readhang'],
  ])('completes the other videos while one video’s reads %s, and never deletes a video upstream it could not read', async (what, flag) => {
    const bad = await client.videos.create({ prompt: `poisoned ${flag}` });
    const good = [];
    for (const n of [1, 2, 3]) good.push(await client.videos.create({ prompt: `neighbour ${n} of ${what}` }));
    for (const v of good) expect(await video(client, v.id, ['completed', 'failed'])).toMatchObject({ status: 'completed', error: null });
    expect((await video(client, bad.id, ['completed', 'failed'])).error).toMatchObject({ code: 'upstream_timeout' });
    expect(upstreamOf(`poisoned ${flag}`).deleted).toBe(false);
    for (const n of [1, 2, 3]) expect(upstreamOf(`neighbour ${n} of ${what}`).deleted).toBe(false);
  });
});

/** Relays that report a finished video as a URL and have no content route: the download comes from that URL. */
describe('videos the upstream reports as a URL', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 200 }, env: { ARCHIVE_ALLOW_PRIVATE: 'true' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterAll(() => s.close());
  const sim = () => s.sim.handles.video as SimVideoHandle;

  it.each(['video_url', 'result_url', 'metadata.url'])('downloads a video whose upstream has no /content from the URL it reported as %s', async (field) => {
    const prompt = `by url ${field} --sim-odd --sim-nocontent --sim-url ${field}`;
    const v = await client.videos.create({ prompt });
    await video(client, v.id, ['completed']);
    const up = [...sim().videos.values()].find((x) => x.prompt === prompt)!;
    const bytes = Buffer.from(await (await client.videos.downloadContent(v.id)).arrayBuffer());
    expect(bytes.equals(simVideoBytes(up.id, 'video', up.bytes))).toBe(true);
    expect(sim().mediaRequests.some((r) => r.path === `/sim/video/${up.id}.mp4`)).toBe(true);
  });

  it('fetches a URL on another host than the channel’s without the channel’s key', async () => {
    const prompt = 'on a cdn --sim-odd --sim-nocontent --sim-foreign --sim-bytes 3000000';
    const v = await client.videos.create({ prompt });
    await video(client, v.id, ['completed']);
    const up = [...sim().videos.values()].find((x) => x.prompt === prompt)!;
    const bytes = Buffer.from(await (await client.videos.downloadContent(v.id)).arrayBuffer());
    expect(bytes.equals(simVideoBytes(up.id, 'video', up.bytes))).toBe(true);
    expect(sim().mediaRequests.filter((r) => r.path === `/sim/video/${up.id}.mp4`)).toEqual([{ path: `/sim/video/${up.id}.mp4`, authorization: null }]);
  });
});

/** The URL an upstream reports is checked like any other target relayq fetches for a client. */
describe('video URLs on private addresses', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 200 } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterAll(() => s.close());

  it('refuses to fetch a reported URL on another host that resolves to a private address', async () => {
    const v = await client.videos.create({ prompt: 'to the metadata service --sim-odd --sim-nocontent --sim-foreign' });
    await video(client, v.id, ['completed']);
    const r = await s.call('GET', `/v1/videos/${v.id}/content`);
    expect(r.status).toBe(502);
    expect(r.body.error).toMatchObject({ code: 'video_url_refused', message: expect.stringMatching(/private|loopback/) });
    expect((s.sim.handles.video as SimVideoHandle).mediaRequests).toEqual([]);
  });
});

/** Two OpenAI channels (two upstream accounts): a remix must go to the account that made its parent. */
describe('video remix on two channels', () => {
  let upstream: Sim;
  let s: Stack;
  let client: OpenAI;
  let dir: string;
  beforeAll(async () => {
    upstream = await startSim({ videoDurationMs: 300 });
    dir = mkdtempSync(join(tmpdir(), 'relayq-video-'));
    const file = join(dir, 'upstreams.json');
    const channel = (name: string) => ({ name, type: 'openai', baseUrl: `${upstream.url}/v1`, key: `sk-${name}-0123456789` });
    writeFileSync(file, JSON.stringify({ channels: [channel('east'), channel('west')] }));
    s = await startStack({ env: { UPSTREAMS_FILE: file } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterAll(async () => {
    await s.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends each remix to the channel that made its parent, with the upstream id, and names the parent by relayq id', async () => {
    const sim = upstream.handles.video as SimVideoHandle;
    const parents = [];
    for (const n of [1, 2, 3, 4]) parents.push(await client.videos.create({ prompt: `parent ${n}` }));
    const channelOf = async (id: string) => (await s.call('GET', `/v1/tasks/${id}`, { key: KEYS.admin })).body.channel as string;
    const made = await Promise.all(parents.map((p) => channelOf(p.id)));
    expect(new Set(made)).toEqual(new Set(['east', 'west']));
    for (const [i, p] of parents.entries()) {
      await video(client, p.id, ['completed']);
      const remix = await client.videos.remix(p.id, { prompt: `remix of ${i}` });
      expect(remix).toMatchObject({ object: 'video', remixed_from_video_id: p.id, prompt: `remix of ${i}` });
      expect(remix.id).not.toBe(p.id);
      const done = await video(client, remix.id, ['completed']);
      expect(done.remixed_from_video_id).toBe(p.id);
      expect(await channelOf(remix.id)).toBe(made[i]);
      const parentUp = [...sim.videos.values()].find((v) => v.prompt === `parent ${i + 1}`)!;
      const remixUp = [...sim.videos.values()].find((v) => v.prompt === `remix of ${i}`)!;
      expect(remixUp).toMatchObject({ remixOf: parentUp.id, account: parentUp.account, request: { fields: { prompt: `remix of ${i}` } } });
      expect(upstream.requests.some((r) => r.method === 'POST' && r.path === `/v1/videos/${parentUp.id}/remix`)).toBe(true);
    }
    expect((await s.call('GET', `/v1/tasks/${parents[0]!.id}`)).body).toMatchObject({ kind: 'video.generation' });
  });

  it('fails a remix when the parent channel is gone, rather than sending it to another account', async () => {
    const p = await client.videos.create({ prompt: 'orphan parent' });
    await video(client, p.id, ['completed']);
    const parentChannel = (await s.call('GET', `/v1/tasks/${p.id}`, { key: KEYS.admin })).body.channel as string;
    // A worker whose configuration no longer has the parent's channel (the other account remains).
    await s.stopWorkers();
    s.config.channels = s.config.channels.filter((c) => c.name !== parentChannel);
    await s.startWorker();
    const r = await s.call('POST', `/v1/videos/${p.id}/remix`, { body: { prompt: 'nowhere to go' } });
    expect(r.status).toBe(502);
    expect(r.body.error.message).toMatch(new RegExp(`channel ${parentChannel}, which holds this task, is no longer configured`));
    expect(upstream.requests.filter((x) => x.path.endsWith('/remix') && x.body && (x.body as any).fields?.prompt === 'nowhere to go')).toEqual([]);
  });
});

/** A completed video whose download is under way, the upstream holding back all but its first piece. */
async function heldDownload(s: Stack, client: OpenAI, prompt: string) {
  const sim = s.sim.handles.video as SimVideoHandle;
  const v = await client.videos.create({ prompt: `${prompt} --sim-bytes 4000000` });
  await video(client, v.id, ['completed']);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  sim.contentGate = () => held;
  const ac = new AbortController();
  const res = await fetch(`${s.api.url}/v1/videos/${v.id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` }, signal: ac.signal });
  const reader = res.body!.getReader();
  await reader.read();
  const rest = async () => {
    for (;;) if ((await reader.read()).done) return 'clean end';
  };
  return { release, abort: () => ac.abort(), rest };
}

/** Downloads that end early: the client leaves, the upstream goes quiet or no longer has the bytes. */
describe('video downloads that end early', () => {
  let s: Stack;
  let sim: SimVideoHandle;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 200 }, env: { UPSTREAM_TIMEOUT_SECONDS: '1' } });
    sim = s.sim.handles.video as SimVideoHandle;
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterAll(() => s.close());

  it('stops reading the upstream when the client goes away', async () => {
    const aborted = sim.contentAborted;
    const d = await heldDownload(s, client, 'left early');
    d.abort();
    await new Promise((r) => setImmediate(r));
    d.release();
    await waitFor(async () => sim.contentAborted > aborted, { what: 'the upstream download to be cut' });
  });

  it('cuts a download short, never ending it cleanly, when the upstream goes silent for the idle timeout', async () => {
    const d = await heldDownload(s, client, 'gone quiet');
    const started = Date.now();
    await expect(d.rest()).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    d.release();
  });

  it('answers 404 for content the upstream no longer has', async () => {
    const v = await client.videos.create({ prompt: 'expired upstream' });
    await video(client, v.id, ['completed']);
    [...sim.videos.values()].find((x) => x.prompt === 'expired upstream')!.deleted = true;
    const r = await s.call('GET', `/v1/videos/${v.id}/content`);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'content_not_found', message: expect.stringMatching(/no longer has this video's video/) });
  });
});

describe('a video download when its API node shuts down', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { videoDurationMs: 200 } });
  });
  afterAll(() => s.close());

  it('is cut when the shutdown grace period ends, so the node can stop', async () => {
    const client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    const d = await heldDownload(s, client, 'at shutdown');
    const started = Date.now();
    await s.api.stop();
    // SHUTDOWN_GRACE_SECONDS is 2 in the test stack; the idle timeout (60 s) plays no part.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(d.rest()).rejects.toThrow();
    d.release();
  });
});
