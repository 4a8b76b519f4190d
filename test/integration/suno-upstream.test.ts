import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import type { SimSuno } from '../../sim/suno.js';
import { readSse } from '../support/sse.js';
import { KEYS, startStack, waitFor, type Call, type Stack } from '../support/stack.js';

async function sunoUntil(call: Call, id: string, statuses: string[], timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const r = await call('GET', `/suno/fetch/${id}`);
      return statuses.includes(r.body?.data?.status) ? r.body.data : null;
    },
    { timeoutMs, what: `Suno task ${id} to reach ${statuses.join('|')}` },
  );
}

const simSuno = (s: Stack) => s.sim.handles.suno as SimSuno;

/** What suno-api upstreams answer, odd shapes and refusals included. */
describe('Suno upstream answers', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { sunoDurationMs: 600 }, env: { UPSTREAM_TASK_TIMEOUT_SECONDS: '3', UPSTREAM_POLL_INTERVAL_MS: '100', UPSTREAM_TIMEOUT_SECONDS: '1', JOB_ATTEMPTS: '3' } });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  // Tests here run one after another, so counting every music submit is exact.
  const submits = () => s.sim.requests.filter((r) => r.path === '/suno/submit/music').length;
  const run = async (prompt: string) => {
    const before = submits();
    const id = (await s.call('POST', '/suno/submit/music', { body: { prompt } })).body.data;
    const done = await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    return { id, done, calls: submits() - before, generic: (await s.call('GET', `/v1/tasks/${id}`)).body };
  };

  it('follows many tasks with one POST /suno/fetch per tick, never one request per task', async () => {
    const first = s.sim.requests.length;
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await s.call('POST', '/suno/submit/lyrics', { body: { prompt: `batch ${i} --sim-ms 1200` } })).body.data);
    for (const id of ids) await sunoUntil(s.call, id, ['SUCCESS']);
    const seen = s.sim.requests.slice(first);
    const polls = seen.filter((r) => r.path === '/suno/fetch');
    expect(seen.filter((r) => r.method === 'GET' && r.path.startsWith('/suno/fetch/'))).toHaveLength(0);
    expect(polls.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 100) + 3);
    expect(Math.max(...polls.map((r) => r.ids ?? 0))).toBeGreaterThanOrEqual(10);
  });

  it('reads suno-api’s DB rows and other odd shapes: integer row id, no progress, string times, lower-case statuses, data as JSON text', async () => {
    const { done, generic } = await run('odd upstream --sim-odd');
    expect(done).toMatchObject({ status: 'SUCCESS', progress: '100%', fail_reason: '' });
    expect(done.data).toHaveLength(2);
    expect(done.data[0]).toMatchObject({ status: 'complete', metadata: { duration: '151.42' } });
    expect(generic.output.clips[0].duration).toBe('151.42');
  });

  it('keeps following through malformed task items and a neighbour without task_id, then completes', async () => {
    const { done } = await run('garbled --sim-malformed');
    expect(done.status).toBe('SUCCESS');
    expect(done.data).toHaveLength(2);
  });

  it('keeps tasks alive through failed polls', async () => {
    s.sim.faults.add({ route: 'suno-fetch', kind: 'status', status: 500, times: 3 });
    s.sim.faults.add({ route: 'suno-fetch', kind: 'body', body: { code: 'fail_to_fetch_task', message: 'upstream busy', data: null }, times: 2 });
    const { done } = await run('survives polls');
    expect(done.status).toBe('SUCCESS');
  });

  it.each([
    ['a 503', { kind: 'status', status: 503 }],
    ['a connection reset', { kind: 'reset' }],
    ['a hang past UPSTREAM_TIMEOUT_SECONDS', { kind: 'hang' }],
    ['suno-api’s 500 internal_error', { kind: 'status', status: 500, body: { code: 'internal_error', message: 'get account failed', data: null } }],
    ['a 200 envelope with code internal_error', { kind: 'body', body: { code: 'internal_error', message: 'task failed', data: null } }],
  ] as const)('retries %s and then succeeds', async (what, fault) => {
    s.sim.faults.add({ route: 'suno-submit', times: 1, ...fault } as never);
    const { done, calls, generic } = await run(`retry ${what}`);
    expect(done.status).toBe('SUCCESS');
    expect(calls).toBe(2);
    expect(generic.attempts).toBe(2);
  });

  it.each([
    ['suno-api’s 400 refusal', { kind: 'status', status: 400, body: { code: 'invalid_request', message: 'prompt contains banned words', data: null } }, 'prompt contains banned words'],
    ['a 200 envelope that is not a success', { kind: 'body', body: { code: 'quota_not_enough', message: 'not enough credits', data: null } }, 'not enough credits'],
    ['an OpenAI-style error from a relay', { kind: 'body', body: { error: { message: 'model chirp-v9 not found', type: 'invalid_request_error' } } }, 'model chirp-v9 not found'],
    ['success without a task id', { kind: 'body', body: { code: 'success', message: '', data: '' } }, 'malformed upstream response (accepted without a task id)'],
    ['a malformed body', { kind: 'malformed' }, 'malformed upstream response (HTTP 200, not JSON)'],
  ] as const)('fails at once on %s, with the upstream’s message', async (_what, fault, reason) => {
    s.sim.faults.add({ route: 'suno-submit', ...fault } as never);
    const { done, calls } = await run(`permanent ${_what}`);
    expect(done).toMatchObject({ status: 'FAILURE', fail_reason: reason, data: [] });
    expect(calls).toBe(1);
  });

  it('keeps every digit of a numeric task id past 2^53 that a submit answered', async () => {
    s.sim.faults.add({ route: 'suno-submit', kind: 'body', body: '{"code":"success","message":"","data":12345678901234567890}', times: 1 });
    const id = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'big id' } })).body.data;
    // Submitted with its upstream id, or failed for lack of one.
    const upstream = await waitFor(async () => {
      const key = (await s.keys()).find((k) => k.endsWith(`:task:${id}`));
      const raw = key ? await s.redis.hget(key, 'upstream') : null;
      const up = raw ? (JSON.parse(raw) as { id: string | null } | null) : null;
      if (up?.id) return { id: up.id };
      const task = (await s.call('GET', `/v1/tasks/${id}`)).body;
      return task.status === 'failed' ? { id: null, error: task.error.message as string } : null;
    });
    expect(upstream).toEqual({ id: '12345678901234567890' });
  });

  it('waits for a lyrics submit past UPSTREAM_TIMEOUT_SECONDS: suno-api answers it only once the lyrics are done', async () => {
    s.sim.faults.add({ route: 'suno-submit', kind: 'latency', ms: 1500, times: 1 });
    const before = s.sim.requests.filter((r) => r.path === '/suno/submit/lyrics').length;
    const id = (await s.call('POST', '/suno/submit/lyrics', { body: { prompt: 'slow words' } })).body.data;
    expect(await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE'])).toMatchObject({ status: 'SUCCESS' });
    expect(s.sim.requests.filter((r) => r.path === '/suno/submit/lyrics').length - before).toBe(1);
  });

  it('fails a stuck task whose links are re-signed on every read, and writes nothing for a read that changed nothing', async () => {
    const before = s.sim.requests.filter((r) => r.path === '/suno/fetch').length;
    const id = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'stuck behind fresh signatures --sim-stuck --sim-signed' } })).body.data;
    const done = await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done).toMatchObject({ status: 'FAILURE', fail_reason: 'upstream made no progress for 3 s' });
    // Polled every 100 ms for 3 s: many reads, each with new signatures, and the task's change written once.
    expect(s.sim.requests.filter((r) => r.path === '/suno/fetch').length - before).toBeGreaterThan(10);
    const events = await readSse(`${s.api.url}/v1/tasks/${id}/events`, { authorization: `Bearer ${KEYS.acme}` }, (e) => e.event === 'done');
    expect(events.filter((e) => e.event === 'progress' || e.event === 'output').length).toBeLessThanOrEqual(2);
  });

  /** Submits `prompt` (long enough to stay unfinished upstream), then answers its polls with `item` (`times` polls, or forever). */
  async function answered(path: 'music' | 'lyrics', prompt: string, item: (clipIds: string[]) => Record<string, unknown>, times?: number) {
    const id = (await s.call('POST', `/suno/submit/${path}`, { body: { prompt } })).body.data;
    const up = await waitFor(async () => [...simSuno(s).tasks.values()].find((t) => t.request.prompt === prompt));
    s.sim.faults.add({ route: 'suno-fetch', kind: 'body', body: { code: 'success', message: '', data: [{ task_id: up.id, action: path.toUpperCase(), ...item(up.clipIds) }] }, ...(times ? { times } : {}) });
    return id;
  }
  const clipsAs = (ids: string[], status: string, audio: (id: string) => string) => ids.map((id) => ({ id, status, audio_url: audio(id), metadata: { error_message: null } }));

  it('follows a SUCCESS whose clips are still streaming until every clip is complete with its mp3', async () => {
    const prompt = 'early success --sim-ms 700';
    const id = await answered('music', prompt, (ids) => ({ status: 'SUCCESS', fail_reason: '', data: clipsAs(ids, 'streaming', (c) => `https://audiopipe.suno.ai/?item_id=${c}`) }), 6);
    const done = await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done.status).toBe('SUCCESS');
    expect(done.data).toHaveLength(2);
    for (const c of done.data) expect(c).toMatchObject({ status: 'complete', audio_url: expect.stringMatching(/\.mp3$/) });
  });

  it('fails a SUCCESS whose clips never get an audio URL, saying so', async () => {
    const id = await answered('music', 'silent success --sim-ms 20000', (ids) => ({ status: 'SUCCESS', fail_reason: '', data: clipsAs(ids, 'complete', () => '') }));
    const done = await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done).toMatchObject({ status: 'FAILURE', fail_reason: 'upstream reported SUCCESS but 2 of 2 clips never completed with an audio URL (no progress for 3 s)' });
  });

  it.each([
    ['lyrics in error', { id: 'l1', status: 'error', text: '' }, 'upstream lyrics generation ended in error'],
    ['lyrics in error with a reason', { id: 'l1', status: 'error', text: '', error_message: 'lyrics blocked by moderation' }, 'lyrics blocked by moderation'],
    ['no lyrics text', {}, 'upstream reported SUCCESS with lyrics without text'],
  ])('fails a lyrics SUCCESS with %s, with the upstream’s reason', async (what, data, reason) => {
    const id = await answered('lyrics', `words ${what} --sim-ms 20000`, () => ({ status: 'SUCCESS', fail_reason: '', data }));
    expect(await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE'])).toMatchObject({ status: 'FAILURE', fail_reason: reason });
  });

  it('fails a SUCCESS that carries a fail_reason, with that reason', async () => {
    const id = await answered('music', 'paid but refused --sim-ms 20000', (ids) => ({ status: 'SUCCESS', fail_reason: 'insufficient credits', data: clipsAs(ids, 'complete', (c) => `https://cdn1.suno.ai/${c}.mp3`) }));
    expect(await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE'])).toMatchObject({ status: 'FAILURE', fail_reason: 'insufficient credits' });
  });

  it('fails a SUCCESS that carries no clip', async () => {
    const id = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'empty success --sim-ms 10000' } })).body.data;
    const upstreamId = await waitFor(async () => [...simSuno(s).tasks.values()].find((t) => t.request.prompt === 'empty success --sim-ms 10000')?.id);
    s.sim.faults.add({ route: 'suno-fetch', kind: 'body', body: { code: 'success', message: '', data: [{ task_id: upstreamId, action: 'MUSIC', status: 'SUCCESS', fail_reason: '', data: [] }] } });
    const done = await sunoUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done).toMatchObject({ status: 'FAILURE', fail_reason: 'upstream reported SUCCESS without any clip or lyrics' });
  });
});

/** An extend names its parent by relayq id and must reach the account (channel) that made the clip. */
describe('Suno extend', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, sim: { sunoDurationMs: 400 } });
    // Two Suno accounts on the simulator: each key sees only its own tasks and clips. suno-a is preferred.
    s.config.channels = s.config.channels.filter((c) => c.type !== 'suno');
    s.config.channels.push({ ...defaultChannel({ name: 'suno-a', type: 'suno', baseUrl: s.sim.url, key: 'sk-suno-a' }), priority: 10 });
    s.config.channels.push(defaultChannel({ name: 'suno-b', type: 'suno', baseUrl: s.sim.url, key: 'sk-suno-b' }));
    await s.startWorker();
  });
  afterAll(() => s.close());

  it('sends continue_clip_id to the channel that made the parent, with the upstream’s task id', async () => {
    // The preferred channel fails the parent's submit once, so the parent lands on suno-b.
    s.sim.faults.add({ route: 'suno-submit', kind: 'status', status: 503, times: 1 });
    const parentId = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'the original' } })).body.data;
    const parent = await sunoUntil(s.call, parentId, ['SUCCESS']);
    expect((await s.call('GET', `/v1/tasks/${parentId}`, { key: KEYS.admin })).body.channel).toBe('suno-b');
    const upstreamParent = [...simSuno(s).tasks.values()].find((t) => t.request.prompt === 'the original')!;
    expect(upstreamParent.account).toBe('sk-suno-b');

    const clip = parent.data[1].id;
    const r = await s.call('POST', '/suno/submit/music', { body: { prompt: '[Bridge]\nmore', continue_clip_id: clip, continue_at: '120.5', task_id: parentId, mv: 'chirp-v3-5' } });
    expect(r.body.code).toBe('success');
    const done = await sunoUntil(s.call, r.body.data, ['SUCCESS', 'FAILURE']);
    expect(done).toMatchObject({ status: 'SUCCESS', action: 'MUSIC' });
    const upstreamExtend = [...simSuno(s).tasks.values()].find((t) => t.request.prompt === '[Bridge]\nmore')!;
    expect(upstreamExtend.account).toBe('sk-suno-b');
    expect(upstreamExtend.request).toEqual({ prompt: '[Bridge]\nmore', continue_clip_id: clip, continue_at: 120.5, task_id: upstreamParent.id, mv: 'chirp-v3-5' });
    expect((await s.call('GET', `/v1/tasks/${r.body.data}`, { key: KEYS.admin })).body.channel).toBe('suno-b');
  });
});

describe('Suno routing', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, sim: { sunoDurationMs: 300 } });
    s.config.channels = s.config.channels.filter((c) => c.type !== 'suno');
    s.config.channels.push({ ...defaultChannel({ name: 'suno-v3', type: 'suno', baseUrl: s.sim.url, key: 'sk-suno-v3' }), models: ['chirp-v3*'], priority: 10 });
    s.config.channels.push(defaultChannel({ name: 'suno-any', type: 'suno', baseUrl: s.sim.url, key: 'sk-suno-any' }));
    await s.startWorker();
  });
  afterAll(() => s.close());

  it('routes by the request’s mv against a channel’s models, whatever its case, forwarding mv as sent', async () => {
    const v3 = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'old model', mv: 'chirp-v3-5' } })).body.data;
    const v4 = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'new model', mv: 'chirp-v4' } })).body.data;
    const upper = (await s.call('POST', '/suno/submit/music', { body: { prompt: 'shouted model', mv: 'CHIRP-V3-5' } })).body.data;
    for (const id of [v3, v4, upper]) await sunoUntil(s.call, id, ['SUCCESS']);
    const upstream = (prompt: string) => [...simSuno(s).tasks.values()].find((t) => t.request.prompt === prompt);
    expect([upstream('old model')?.account, upstream('new model')?.account, upstream('shouted model')?.account]).toEqual(['sk-suno-v3', 'sk-suno-any', 'sk-suno-v3']);
    expect(upstream('shouted model')?.request.mv).toBe('CHIRP-V3-5');
  });
});
