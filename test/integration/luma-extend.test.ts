import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimLuma } from '../../sim/luma.js';
import { startSim, type Sim } from '../../sim/server.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

const lumaOf = (sim: Sim) => sim.handles.luma as SimLuma;

/**
 * Extends on two Luma channels, each its own upstream account (simulator): `a` is preferred, so
 * a generation lands on `b` only when `a` failed it, and an extend that followed routing instead
 * of its parent would go to `a`, which does not have the parent.
 */
describe('Luma extend', () => {
  let s: Stack;
  let a: Sim;
  let b: Sim;
  beforeAll(async () => {
    a = await startSim({ lumaDurationMs: 300, lumaSecret: 'luma-key-a' });
    b = await startSim({ lumaDurationMs: 300, lumaSecret: 'luma-key-b' });
    const file = join(mkdtempSync(join(tmpdir(), 'relayq-luma-')), 'upstreams.json');
    const channel = (name: string, sim: Sim, key: string, priority: number) => ({ name, type: 'luma', baseUrl: sim.url, key, priority });
    writeFileSync(file, JSON.stringify({ channels: [channel('luma-a', a, 'luma-key-a', 1), channel('luma-b', b, 'luma-key-b', 0)] }));
    s = await startStack({ env: { UPSTREAMS_FILE: file } });
  });
  afterAll(async () => {
    await s.close();
    await a.close();
    await b.close();
  });

  const until = (id: string, state: string) => waitFor(async () => ((await s.call('GET', `/luma/generations/${id}`)).body.state === state ? true : null), { what: `${id} ${state}` });
  const extendCalls = (sim: Sim) => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/extend'));

  it('sends an extend to the channel that made its parent, with the upstream’s id of the parent', async () => {
    a.faults.add({ route: 'luma-submit', kind: 'status', status: 500, times: 1 });
    const parent = await s.call('POST', '/luma/generations', { body: { user_prompt: 'the first shot' } });
    await until(parent.body.id, 'completed');
    expect((await s.call('GET', `/v1/tasks/${parent.body.id}`, { key: KEYS.admin })).body).toMatchObject({ channel: 'luma-b', channel_attempts: [{ channel: 'luma-a', outcome: 'moved' }, { channel: 'luma-b', outcome: 'succeeded' }] });
    const upstreamParent = [...lumaOf(b).generations.values()].find((g) => g.prompt === 'the first shot')!;

    const ext = await s.call('POST', `/luma/generations/${parent.body.id}/extend`, { body: { user_prompt: 'and then it flies' } });
    expect(ext.status).toBe(200);
    expect(ext.body).toMatchObject({ id: expect.stringMatching(/^luma_/), state: 'pending', prompt: 'and then it flies' });
    expect(ext.body.id).not.toBe(parent.body.id);
    await until(ext.body.id, 'completed');

    expect(extendCalls(a)).toHaveLength(0);
    expect(extendCalls(b).map((r) => [r.path, r.body])).toEqual([[`/luma/generations/${upstreamParent.id}/extend`, { user_prompt: 'and then it flies' }]]);
    const upstreamChild = [...lumaOf(b).generations.values()].find((g) => g.prompt === 'and then it flies')!;
    expect(upstreamChild.extendOf).toBe(upstreamParent.id);
    const t = (await s.call('GET', `/v1/tasks/${ext.body.id}`, { key: KEYS.admin })).body;
    expect(t).toMatchObject({ kind: 'luma.extend', channel: 'luma-b', output: { video_url: `${b.url}/sim/luma/${upstreamChild.id}-video.mp4` } });
  });

  it('extends under /luma/v1 too, and retries a 429 on the parent’s channel instead of moving to another', async () => {
    const parent = await s.call('POST', '/luma/v1/generations', { body: { user_prompt: 'on a' } });
    await until(parent.body.id, 'completed');
    expect((await s.call('GET', `/v1/tasks/${parent.body.id}`, { key: KEYS.admin })).body.channel).toBe('luma-a');
    a.faults.add({ route: 'luma-submit', kind: 'status', status: 429, retryAfter: 0, times: 1 });
    const ext = await s.call('POST', `/luma/v1/generations/${parent.body.id}/extend`, { body: { user_prompt: 'still on a' } });
    await until(ext.body.id, 'completed');
    expect(extendCalls(a).map((r) => r.path)).toHaveLength(2);
    expect(extendCalls(b).some((r) => r.body && (r.body as { user_prompt?: string }).user_prompt === 'still on a')).toBe(false);
  });
});
