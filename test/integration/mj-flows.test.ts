import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, mjUntil, PNG, PNG2, startStack, waitFor, type Stack, simMj } from '../support/stack.js';

/** Whole Midjourney flows through API, worker, tracker and the simulated upstream. */
describe('MJ flows', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 300 } });
  });
  afterAll(() => s.close());

  const submit = async (path: string, body: unknown) => {
    const r = await s.call('POST', path, { body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { code: number; result: string; properties: Record<string, unknown> };
  };

  it('imagine goes through progress with a preview to SUCCESS with buttons', async () => {
    const { result: id } = await submit('/mj/submit/imagine', { prompt: 'a lighthouse at dusk --ar 3:2 --sim-ms 1500', state: 'abc' });
    const progressing = await mjUntil(s.call, id, ['IN_PROGRESS']);
    expect(progressing.progress).toMatch(/^\d{1,2}%$/);
    expect(progressing.imageUrl).toMatch(/\/sim\/preview\//);
    const done = await mjUntil(s.call, id, ['SUCCESS']);
    expect(done).toMatchObject({ id, action: 'IMAGINE', status: 'SUCCESS', progress: '100%', state: 'abc', failReason: null });
    expect(done.imageUrl).toMatch(/\/sim\/image\/[0-9a-f-]{36}\.png$/);
    expect(done.startTime).toBeGreaterThanOrEqual(done.submitTime);
    expect(done.finishTime).toBeGreaterThanOrEqual(done.startTime);
    expect(done.buttons.map((b: { label: string }) => b.label)).toEqual(['U1', 'U2', 'U3', 'U4', '', 'V1', 'V2', 'V3', 'V4']);
    expect(done.properties.finalPrompt).toContain('a lighthouse at dusk');
    // The upstream saw exactly our prompt, and its own id never reaches the client.
    const up = [...simMj(s.sim).tasks.values()].find((t) => t.prompt.startsWith('a lighthouse at dusk'))!;
    expect(JSON.stringify(done)).not.toContain(up.id);
  });

  it('imagine → U1 relays the button with upstream ids and ends with upscale buttons', async () => {
    const { result: parent } = await submit('/mj/submit/imagine', { prompt: 'a red bicycle' });
    const done = await mjUntil(s.call, parent, ['SUCCESS']);
    const u1 = done.buttons.find((b: { label: string }) => b.label === 'U1');
    const r = await submit('/mj/submit/action', { taskId: parent, customId: u1.customId, state: 'u1' });
    expect(r.code).toBe(1);
    expect(r.result).not.toBe(parent);
    const up = await mjUntil(s.call, r.result, ['SUCCESS']);
    expect(up).toMatchObject({ action: 'UPSCALE', state: 'u1', properties: { parentId: parent } });
    expect(up.buttons.map((b: { label: string }) => b.label)).toContain('Vary (Region)');
    const upstreamAction = [...simMj(s.sim).tasks.values()].find((t) => t.request.customId === u1.customId)!;
    const upstreamParent = simMj(s.sim).tasks.get(upstreamAction.request.taskId as string)!;
    expect(upstreamParent.prompt).toBe('a red bicycle');
  });

  it('refuses a customId that is not one of the parent buttons', async () => {
    const { result: parent } = await submit('/mj/submit/imagine', { prompt: 'buttons only' });
    await mjUntil(s.call, parent, ['SUCCESS']);
    const r = await s.call('POST', '/mj/submit/action', { body: { taskId: parent, customId: 'MJ::JOB::upsample::9::nothash' } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(4);
    expect(r.body.description).toMatch(/^customId: /);
  });

  async function upscaled(prompt: string) {
    const { result: parent } = await submit('/mj/submit/imagine', { prompt });
    const grid = await mjUntil(s.call, parent, ['SUCCESS']);
    const { result: up } = await submit('/mj/submit/action', { taskId: parent, customId: grid.buttons[0].customId });
    return mjUntil(s.call, up, ['SUCCESS']);
  }

  it('Custom Zoom answers 21 with a MODAL task, and the modal prompt runs it to SUCCESS', async () => {
    const up = await upscaled('a mountain lake');
    const zoom = up.buttons.find((b: { label: string }) => b.label === 'Custom Zoom');
    const r = await submit('/mj/submit/action', { taskId: up.id, customId: zoom.customId });
    expect(r.code).toBe(21);
    expect(r.properties).toMatchObject({ finalPrompt: 'a mountain lake', remix: true });
    const modal = await s.call('GET', `/mj/task/${r.result}/fetch`);
    expect(modal.body).toMatchObject({ status: 'MODAL', action: 'ZOOM' });
    expect((await s.call('GET', `/v1/tasks/${r.result}`)).body.status).toBe('requires_action');
    const m = await submit('/mj/submit/modal', { taskId: r.result, prompt: 'a mountain lake --ar 1:1 --zoom 1.5' });
    expect(m.code).toBe(1);
    expect(m.result).toBe(r.result);
    const done = await mjUntil(s.call, r.result, ['SUCCESS']);
    expect(done.action).toBe('ZOOM');
    const upstream = [...simMj(s.sim).tasks.values()].find((t) => (t.request.modal as { prompt?: string } | undefined)?.prompt === 'a mountain lake --ar 1:1 --zoom 1.5');
    expect(upstream).toBeDefined();
    // A second modal on the same task is refused.
    const again = await s.call('POST', '/mj/submit/modal', { body: { taskId: r.result, prompt: 'again' } });
    expect(again.body.code).toBe(4);
  });

  it('Vary (Region) needs a mask in the modal step and relays it', async () => {
    const up = await upscaled('an old car');
    const region = up.buttons.find((b: { label: string }) => b.label === 'Vary (Region)');
    const r = await submit('/mj/submit/action', { taskId: up.id, customId: region.customId });
    expect(r.code).toBe(21);
    const noMask = await s.call('POST', '/mj/submit/modal', { body: { taskId: r.result, prompt: 'a new car' } });
    expect(noMask.status).toBe(400);
    expect(noMask.body.description).toMatch(/^maskBase64: /);
    const m = await submit('/mj/submit/modal', { taskId: r.result, prompt: 'a shiny new car', maskBase64: PNG2 });
    expect(m.code).toBe(1);
    const done = await mjUntil(s.call, r.result, ['SUCCESS']);
    expect(done.action).toBe('VARIATION');
    const upstream = [...simMj(s.sim).tasks.values()].find((t) => (t.request.modal as { maskBase64?: string } | undefined)?.maskBase64 === PNG2);
    expect(upstream?.prompt).toBe('a shiny new car');
  });

  it.each([2, 5])('blends %i images', async (n) => {
    const images = Array.from({ length: n }, (_, i) => (i % 2 ? PNG2 : PNG));
    const { result } = await submit('/mj/submit/blend', { base64Array: images, dimensions: 'LANDSCAPE' });
    const done = await mjUntil(s.call, result, ['SUCCESS']);
    expect(done.action).toBe('BLEND');
    const upstream = [...simMj(s.sim).tasks.values()].find((t) => t.action === 'BLEND' && (t.request.base64Array as string[]).length === n && t.request.dimensions === 'LANDSCAPE');
    expect((upstream!.request.base64Array as string[])[0]).toBe(PNG);
  });

  it('describes an image into four prompts in finalPrompt', async () => {
    const { result } = await submit('/mj/submit/describe', { base64: PNG });
    const done = await mjUntil(s.call, result, ['SUCCESS']);
    expect(done.action).toBe('DESCRIBE');
    expect(done.properties.finalPrompt.split('\n\n')).toHaveLength(4);
    expect(done.buttons.map((b: { customId: string }) => b.customId)).toContain('MJ::Job::PicReader::1');
    const byLink = await submit('/mj/submit/describe', { link: 'https://example.com/cat.png' });
    await mjUntil(s.call, byLink.result, ['SUCCESS']);
    expect([...simMj(s.sim).tasks.values()].some((t) => t.request.link === 'https://example.com/cat.png')).toBe(true);
  });

  it('describe → PicReader needs the modal step and imagines the chosen prompt', async () => {
    const { result } = await submit('/mj/submit/describe', { base64: PNG });
    await mjUntil(s.call, result, ['SUCCESS']);
    const r = await submit('/mj/submit/action', { taskId: result, customId: 'MJ::Job::PicReader::2' });
    expect(r.code).toBe(21);
    expect(String(r.properties.finalPrompt)).toContain('2️⃣');
    await submit('/mj/submit/modal', { taskId: r.result, prompt: 'a simulated description number 2' });
    const done = await mjUntil(s.call, r.result, ['SUCCESS']);
    expect(done.action).toBe('IMAGINE');
  });

  it('shortens a prompt', async () => {
    const { result } = await submit('/mj/submit/shorten', { prompt: 'an extremely detailed painting of a fox in a forest' });
    const done = await mjUntil(s.call, result, ['SUCCESS']);
    expect(done.action).toBe('SHORTEN');
    expect(done.properties.finalPrompt).toMatch(/Shortened prompts/);
  });

  it('swaps a face', async () => {
    const { result } = await submit('/mj/insight-face/swap', { sourceBase64: PNG, targetBase64: PNG2 });
    const done = await mjUntil(s.call, result, ['SUCCESS']);
    expect(done).toMatchObject({ action: 'SWAP_FACE', botType: 'INSIGHT_FACE' });
    const upstream = [...simMj(s.sim).tasks.values()].find((t) => t.action === 'SWAP_FACE')!;
    expect(upstream.request).toMatchObject({ sourceBase64: PNG, targetBase64: PNG2 });
  });

  it('relays the speed mode prefix to the upstream', async () => {
    const r = await s.call('POST', '/mj-relax/mj/submit/imagine', { body: { prompt: 'slow and cheap' } });
    await mjUntil(s.call, r.body.result, ['SUCCESS']);
    const upstream = [...simMj(s.sim).tasks.values()].find((t) => t.prompt === 'slow and cheap')!;
    expect(upstream.mode).toBe('RELAX');
  });

  it('gets the image seed from the upstream and keeps it', async () => {
    const { result } = await submit('/mj/submit/imagine', { prompt: 'seeded' });
    await mjUntil(s.call, result, ['SUCCESS']);
    const r = await s.call('GET', `/mj/task/${result}/image-seed`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ code: 1 });
    expect(r.body.result).toMatch(/^\d+$/);
    const seedCalls = () => s.sim.requests.filter((q) => q.path.endsWith('/image-seed')).length;
    const calls = seedCalls();
    const again = await s.call('GET', `/mj/task/${result}/image-seed`);
    expect(again.body.result).toBe(r.body.result);
    expect(seedCalls()).toBe(calls);
  });

  it('refuses image-seed for a task that has not finished', async () => {
    const { result } = await submit('/mj/submit/imagine', { prompt: 'not yet --sim-stuck' });
    const r = await s.call('GET', `/mj/task/${result}/image-seed`);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(4);
  });

  it('shows MJ tasks in the generic view', async () => {
    const { result } = await submit('/mj/submit/imagine', { prompt: 'generic view' });
    await mjUntil(s.call, result, ['SUCCESS']);
    const r = await s.call('GET', `/v1/tasks/${result}`);
    expect(r.body).toMatchObject({ id: result, object: 'task', kind: 'mj.imagine', status: 'succeeded', progress: 100, attempts: 1, error: null });
    expect(r.body.output.image_url).toMatch(/\.png$/);
    expect(r.body.urls.get).toMatch(new RegExp(`/v1/tasks/${result}$`));
    const content = await fetch(`${s.api.url}/v1/tasks/${result}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` }, redirect: 'manual' });
    expect(content.status).toBe(302);
    expect(content.headers.get('location')).toBe(r.body.output.image_url);
    await waitFor(async () => (await s.call('GET', '/mj/task/queue')).body.every((t: { id: string }) => t.id !== result), { what: 'finished task to leave the queue' });
  });

});
