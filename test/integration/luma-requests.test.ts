import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimLuma } from '../../sim/luma.js';
import { startStack, waitFor, type Stack } from '../support/stack.js';

const simLuma = (s: Stack) => s.sim.handles.luma as SimLuma;
const upstreamOf = (s: Stack, prompt: string) => waitFor(async () => [...simLuma(s).generations.values()].find((g) => g.prompt === prompt), { what: `upstream generation "${prompt}"` });

/** What clients send to the Luma routes, good and bad, and how relayq answers. */
describe('Luma requests', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { lumaDurationMs: 300 } });
  });
  afterAll(() => s.close());

  it('accepts what real clients send: blank images, string booleans, `prompt` for `user_prompt`, bare base64', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const r = await s.call('POST', '/luma/generations', { body: { prompt: 'client shapes', expand_prompt: 'true', image_url: png, image_end_url: '', notify_hook: '', aspect_ratio: null, loop: false, model_name: 'ray-v2', resolution: '720p' } });
    expect(r.status).toBe(200);
    const up = await upstreamOf(s, 'client shapes');
    expect(up.request).toEqual({ user_prompt: 'client shapes', expand_prompt: true, image_url: `data:image/png;base64,${png}`, loop: false, model_name: 'ray-v2', resolution: '720p' });
  });

  it('takes an image alone, with no prompt, as Luma-API does', async () => {
    const r = await s.call('POST', '/luma/generations', { body: { image_url: 'https://example.com/start.png' } });
    expect(r.body).toMatchObject({ state: 'pending', prompt: '' });
  });

  it.each([
    ['a body that is not an object', '[1,2]', /^body: must be a JSON object/],
    ['no prompt and no image', { aspect_ratio: '16:9' }, /^user_prompt: is required/],
    ['a blank prompt', { user_prompt: '   ' }, /^user_prompt: is required/],
    ['a prompt that is not a string', { user_prompt: 42 }, /^user_prompt: must be a string/],
    ['an aspect ratio that is no ratio', { user_prompt: 'x', aspect_ratio: 'wide' }, /^aspect_ratio: must be a ratio/],
    ['expand_prompt that is no boolean', { user_prompt: 'x', expand_prompt: 'yes' }, /^expand_prompt: must be true or false/],
    ['an image that is no image', { user_prompt: 'x', image_url: 'data:text/plain;base64,aGVsbG8=' }, /^image_url: is not an image/],
    ['an end frame that is a browser blob URL', { user_prompt: 'x', image_end_url: 'blob:https://app/1' }, /^image_end_url: is a browser-local blob/],
    ['a notify_hook that is no http(s) URL', { user_prompt: 'x', notify_hook: 'ftp://example.com/h' }, /^notify_hook: must be an http\(s\) URL/],
    ['a notify_hook on a private address', { user_prompt: 'x', notify_hook: 'http://10.0.0.1/hook' }, /^notify_hook: .*WEBHOOK_ALLOW_PRIVATE=true/],
    ['invalid JSON', '{"user_prompt": ', /^body: /],
  ])('refuses %s with a 400 naming the field, in both error shapes', async (_what, body, reason) => {
    const r = await s.call('POST', '/luma/generations', { body });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatchObject({ reason: expect.stringMatching(reason), code: 1 });
    expect(r.body.error).toMatchObject({ message: r.body.detail.reason, type: 'invalid_request_error' });
  });

  it('refuses an X-Webhook-Url on a private address, naming the header', async () => {
    const r = await s.call('POST', '/luma/generations', { body: { user_prompt: 'x' }, headers: { 'x-webhook-url': 'http://127.0.0.1:9/h' } });
    expect([r.status, r.body.error.param]).toEqual([400, 'X-Webhook-Url']);
  });

  it('refuses to extend a generation that is not completed, or that does not exist', async () => {
    const running = await s.call('POST', '/luma/generations', { body: { user_prompt: 'still going --sim-stuck' } });
    const r = await s.call('POST', `/luma/generations/${running.body.id}/extend`, { body: { user_prompt: 'more' } });
    expect([r.status, r.body.detail.reason]).toEqual([400, expect.stringMatching(/^task_id: the generation to extend must be completed \(it is (pending|processing)\)/)]);
    const missing = await s.call('POST', '/luma/generations/luma_doesnotexist0000/extend', { body: {} });
    expect(missing.status).toBe(404);
    const nonsense = await s.call('GET', `/luma/generations/${'x'.repeat(300)}`);
    expect([nonsense.status, nonsense.body.detail.reason]).toEqual([404, expect.stringMatching(/^generation not found/)]);
    await s.call('POST', `/v1/tasks/${running.body.id}/cancel`);
  });

  it('answers no video link before there is one', async () => {
    const r = await s.call('POST', '/luma/generations', { body: { user_prompt: 'no link yet --sim-stuck' } });
    const link = await s.call('GET', `/luma/generations/${r.body.id}/download_video_url`);
    expect([link.status, link.body.detail.reason]).toEqual([400, expect.stringMatching(/^task_id: the generation has no video yet/)]);
    await s.call('POST', `/v1/tasks/${r.body.id}/cancel`);
  });

  it('answers 202 for Prefer: respond-async, and the finished generation for Prefer: wait', async () => {
    const async = await s.call('POST', '/luma/generations', { body: { user_prompt: 'async' }, headers: { prefer: 'respond-async' } });
    expect([async.status, async.body.state, async.headers.get('location')]).toEqual([202, 'pending', `/luma/generations/${async.body.id}`]);
    const waited = await s.call('POST', '/luma/generations', { body: { user_prompt: 'waited' }, headers: { prefer: 'wait=10' } });
    expect([waited.status, waited.body.state]).toEqual([200, 'completed']);
    expect(waited.body.video.url).toContain('/sim/luma/');
  });

  it('answers an unknown Luma route in the Luma error shape', async () => {
    const r = await s.call('GET', '/luma/nothing/here');
    expect(r.status).toBe(404);
    expect(r.body.detail).toMatchObject({ reason: expect.stringMatching(/^no route/), code: 1 });
  });
});
