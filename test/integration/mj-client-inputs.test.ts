import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimMjTask } from '../../sim/mj.js';
import { mjUntil, PNG, PNG2, startStack, waitFor, type Stack, simMj } from '../support/stack.js';

/**
 * Bodies that real Midjourney-proxy clients send (web clients, gateways, SDK nodes), accepted and
 * relayed as midjourney-proxy servers read them: blank optional fields are "not given", unknown
 * fields are ignored, images come in every form those servers accept.
 */

/** A distinct PNG per call (PNG signature, random tail), so each test finds its own upstream task. */
const uniquePng = () => Buffer.concat([Buffer.from(PNG.split(',')[1]!, 'base64'), randomBytes(6)]);
const dataUrl = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;

describe('MJ inputs from real clients', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 200 } });
  });
  afterAll(() => s.close());

  const accepted = async (path: string, body: unknown) => {
    const r = await s.call('POST', path, { body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect([1, 21, 22], JSON.stringify(r.body)).toContain(r.body.code);
    return r.body as { code: number; result: string; properties: Record<string, unknown> };
  };
  /** Task records and blobs: a refused submission writes none (the running worker writes its own locks). */
  const taskKeys = async () => (await s.keys()).filter((k) => /:(task|blobs):/.test(k)).sort();
  const refused = async (path: string, body: unknown, field: string) => {
    const before = await taskKeys();
    const r = await s.call('POST', path, { body });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.code).toBe(4);
    expect(r.body.description).toMatch(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `));
    expect(await taskKeys()).toEqual(before);
    return r.body.description as string;
  };
  const upstream = (what: string, match: (t: SimMjTask) => boolean) => waitFor(async () => [...simMj(s.sim).tasks.values()].find(match), { what });

  it('accepts the imagine body of chatgpt-web-midjourney-proxy and relays it without the blanks', async () => {
    const { result } = await accepted('/mj/submit/imagine', { base64Array: [], notifyHook: '', prompt: 'cat --v 6.0', state: '', botType: 'MID_JOURNEY' });
    const done = await mjUntil(s.call, result, ['SUCCESS']);
    expect(done).toMatchObject({ status: 'SUCCESS', state: null, prompt: 'cat --v 6.0' });
    const up = await upstream('the imagine upstream', (t) => t.prompt === 'cat --v 6.0');
    expect(up.request).toEqual({ prompt: 'cat --v 6.0', base64Array: [], botType: 'MID_JOURNEY' });
  });

  it('treats null, white space and empty arrays as not given, and ignores fields it does not use', async () => {
    const { result } = await accepted('/mj/submit/imagine', {
      prompt: 'a quiet harbour',
      base64Array: null,
      base64: '',
      notifyHook: '  ',
      state: null,
      botType: null,
      accountFilter: { instanceId: '', modes: [], remark: '' },
      instanceId: '',
      mode: 'FAST',
    });
    expect((await mjUntil(s.call, result, ['SUCCESS'])).state).toBeNull();
    const task = (await s.call('GET', `/v1/tasks/${result}`)).body;
    expect(task.status).toBe('succeeded');
  });

  it('accepts the knife4j example body of novicezk midjourney-proxy (blank legacy base64)', async () => {
    const { result } = await accepted('/mj/submit/imagine', { base64: '', notifyHook: '', prompt: 'Cat legacy', state: '' });
    await mjUntil(s.call, result, ['SUCCESS']);
  });

  it('adds a legacy single base64 image after base64Array, as novicezk does', async () => {
    const [a, b] = [uniquePng(), uniquePng()];
    await accepted('/mj/submit/imagine', { prompt: 'legacy image field', base64Array: [dataUrl(a)], base64: dataUrl(b) });
    const up = await upstream('the imagine upstream', (t) => t.prompt === 'legacy image field');
    expect(up.request.base64Array).toEqual([dataUrl(a), dataUrl(b)]);
  });

  it.each([
    ['niji', 'NIJI_JOURNEY'],
    ['NIJI_JOURNEY', 'NIJI_JOURNEY'],
    ['mj', 'MID_JOURNEY'],
    ['', 'MID_JOURNEY'],
    ['DALL_E', 'MID_JOURNEY'],
  ])('reads botType %j as %s, as trueai-org does', async (botType, expected) => {
    const prompt = `bot ${botType || 'blank'} ${randomBytes(3).toString('hex')}`;
    await accepted('/mj/submit/imagine', { prompt, botType });
    expect((await upstream('the imagine upstream', (t) => t.prompt === prompt)).request.botType).toBe(expected);
  });

  it('accepts a blend with blank optional fields (dimensions defaults to SQUARE)', async () => {
    const [a, b] = [uniquePng(), uniquePng()];
    const body = { base64Array: [dataUrl(a), '', dataUrl(b)], dimensions: '', botType: '', notifyHook: '', state: '', accountFilter: { instanceId: '' } };
    const { result } = await accepted('/mj/submit/blend', body);
    await mjUntil(s.call, result, ['SUCCESS']);
    const up = await upstream('the blend upstream', (t) => t.action === 'BLEND' && (t.request.base64Array as string[])[0] === dataUrl(a));
    expect(up.request).toMatchObject({ base64Array: [dataUrl(a), dataUrl(b)], dimensions: 'SQUARE' });
  });

  it('reads blend dimensions null as SQUARE and in any case', async () => {
    const [a, b, c] = [uniquePng(), uniquePng(), uniquePng()];
    await accepted('/mj/submit/blend', { base64Array: [dataUrl(a), dataUrl(b)], dimensions: null });
    await accepted('/mj/submit/blend', { base64Array: [dataUrl(c), dataUrl(b)], dimensions: 'landscape' });
    expect((await upstream('blend a', (t) => (t.request.base64Array as string[] | undefined)?.[0] === dataUrl(a))).request.dimensions).toBe('SQUARE');
    expect((await upstream('blend c', (t) => (t.request.base64Array as string[] | undefined)?.[0] === dataUrl(c))).request.dimensions).toBe('LANDSCAPE');
  });

  it('describes by link when base64 is blank', async () => {
    const link = `https://example.com/${randomBytes(4).toString('hex')}.png`;
    const { result } = await accepted('/mj/submit/describe', { base64: '', link, botType: 'MID_JOURNEY', notifyHook: '', state: '' });
    await mjUntil(s.call, result, ['SUCCESS']);
    expect((await upstream('the describe upstream', (t) => t.request.link === link)).request.base64).toBeUndefined();
  });

  it('describes an image URL given as base64 by link', async () => {
    const link = `https://example.com/${randomBytes(4).toString('hex')}.jpg`;
    await accepted('/mj/submit/describe', { base64: link, link: '' });
    await upstream('the describe upstream', (t) => t.request.link === link);
  });

  it('accepts a shorten with blank optional fields', async () => {
    const { result } = await accepted('/mj/submit/shorten', { prompt: 'a very long prompt about foxes', botType: '', notifyHook: '', state: '' });
    await mjUntil(s.call, result, ['SUCCESS']);
  });

  it('accepts an action and a modal with blank fields (midjourney-proxy webui and chatgpt-web bodies)', async () => {
    const { result: parent } = await accepted('/mj/submit/imagine', { prompt: 'a tall lighthouse' });
    const grid = await mjUntil(s.call, parent, ['SUCCESS']);
    const u1 = await accepted('/mj/submit/action', { taskId: parent, customId: grid.buttons[0].customId, state: '', notifyHook: '', chooseSameChannel: true, enableRemix: false });
    const up = await mjUntil(s.call, u1.result, ['SUCCESS']);
    const zoom = up.buttons.find((b: { label: string }) => b.label === 'Custom Zoom');
    const r = await accepted('/mj/submit/action', { taskId: up.id, customId: zoom.customId, notifyHook: null, state: null });
    expect(r.code).toBe(21);
    // chatgpt-web confirms with the suggested prompt, `''` when there is none; the webui sends no mask.
    await accepted('/mj/submit/modal', { taskId: r.result, prompt: '', maskBase64: '' });
    await mjUntil(s.call, r.result, ['SUCCESS']);
  });

  it('swaps faces from the midjourney-proxy webui body (blank URLs beside base64)', async () => {
    const [a, b] = [uniquePng(), uniquePng()];
    const { result } = await accepted('/mj/insight-face/swap', { sourceUrl: '', targetUrl: '', sourceBase64: dataUrl(a), targetBase64: dataUrl(b), state: 'midjourney-proxy-admin' });
    await mjUntil(s.call, result, ['SUCCESS']);
    const up = await upstream('the swap upstream', (t) => t.request.sourceBase64 === dataUrl(a));
    expect(up.request).toEqual({ sourceBase64: dataUrl(a), targetBase64: dataUrl(b) });
  });

  it('swaps faces given by URL (trueai-org sourceUrl/targetUrl), relaying the URLs', async () => {
    const src = `https://example.com/${randomBytes(4).toString('hex')}-face.png`;
    await accepted('/mj/insight-face/swap', { sourceBase64: '', sourceUrl: src, targetUrl: 'https://example.com/target.png' });
    const up = await upstream('the swap upstream', (t) => t.request.sourceUrl === src);
    expect(up.request).toEqual({ sourceUrl: src, targetUrl: 'https://example.com/target.png' });
  });

  it('relays every image form midjourney-proxy servers accept as a canonical data URL, and URLs unchanged', async () => {
    const imgs = Array.from({ length: 4 }, uniquePng);
    const b64 = (i: number) => imgs[i]!.toString('base64');
    const url = `https://cdn.example.com/${randomBytes(4).toString('hex')}.png`;
    const base64Array = [
      `data:image/png;charset=utf-8;base64,${b64(0)}`,
      b64(1).replace(/(.{12})/g, '$1\n'),
      `DATA:image/png;BASE64,${imgs[2]!.toString('base64url')}`,
      url,
    ];
    await accepted('/mj/submit/imagine', { prompt: 'every form', base64Array });
    const up = await upstream('the imagine upstream', (t) => t.prompt === 'every form');
    expect(up.request.base64Array).toEqual([dataUrl(imgs[0]!), dataUrl(imgs[1]!), dataUrl(imgs[2]!), url]);
    await accepted('/mj/submit/imagine', { prompt: 'bare and unpadded', base64Array: [b64(3).replace(/=+$/, '')] });
    expect((await upstream('the imagine upstream', (t) => t.prompt === 'bare and unpadded')).request.base64Array).toEqual([dataUrl(imgs[3]!)]);
  });

  it('relays a mask in any image form', async () => {
    const { result: parent } = await accepted('/mj/submit/imagine', { prompt: 'a small boat' });
    const grid = await mjUntil(s.call, parent, ['SUCCESS']);
    const { result: u1 } = await accepted('/mj/submit/action', { taskId: parent, customId: grid.buttons[0].customId });
    const up = await mjUntil(s.call, u1, ['SUCCESS']);
    const region = up.buttons.find((b: { label: string }) => b.label === 'Vary (Region)');
    const r = await accepted('/mj/submit/action', { taskId: up.id, customId: region.customId });
    const mask = uniquePng();
    await accepted('/mj/submit/modal', { taskId: r.result, prompt: 'a red boat', maskBase64: mask.toString('base64url') });
    await upstream('the modal upstream', (t) => (t.request.modal as { maskBase64?: string } | undefined)?.maskBase64 === dataUrl(mask));
  });

  it.each([
    ['/mj/submit/imagine', { prompt: '' }, 'prompt'],
    ['/mj/submit/imagine', { prompt: null, base64Array: [] }, 'prompt'],
    ['/mj/submit/imagine', { prompt: '  ', notifyHook: '', state: '' }, 'prompt'],
    ['/mj/submit/blend', { base64Array: [], dimensions: '' }, 'base64Array'],
    ['/mj/submit/blend', { base64Array: [PNG, ''] }, 'base64Array'],
    ['/mj/submit/describe', { base64: '', link: '' }, 'base64'],
    ['/mj/submit/shorten', { prompt: '', botType: '' }, 'prompt'],
    ['/mj/submit/action', { taskId: '', customId: 'MJ::JOB::upsample::1::x' }, 'taskId'],
    ['/mj/submit/action', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', customId: '  ' }, 'customId'],
    ['/mj/submit/modal', { taskId: '', prompt: 'p' }, 'taskId'],
    ['/mj/insight-face/swap', { sourceBase64: '', sourceUrl: '', targetBase64: PNG }, 'sourceBase64'],
    ['/mj/insight-face/swap', { sourceBase64: PNG, targetBase64: '', targetUrl: null }, 'targetBase64'],
  ])('%s still refuses a blank required field: %j', async (path, body, field) => {
    await refused(path, body, field);
  });

  it.each([
    ['/mj/submit/imagine', { prompt: 'p', base64Array: [PNG, 'not an image at all!'] }, 'base64Array[1]', /not valid base64/],
    ['/mj/submit/imagine', { prompt: 'p', base64Array: ['', PNG, Buffer.from('hello').toString('base64')] }, 'base64Array[2]', /not an image/],
    ['/mj/submit/imagine', { prompt: 'p', base64Array: ['data:image/png;base64,'] }, 'base64Array[0]', /empty/],
    ['/mj/submit/blend', { base64Array: [PNG, 'data:text/plain;base64,aGVsbG8='] }, 'base64Array[1]', /not an image/],
    ['/mj/submit/describe', { base64: 'blob:https://example.com/1234' }, 'base64', /blob: URL/],
    ['/mj/submit/modal', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', maskBase64: '%%%' }, 'maskBase64', /not valid base64/],
    ['/mj/insight-face/swap', { sourceBase64: PNG, targetUrl: 'https://' }, 'targetUrl', /http\(s\) URL/],
  ])('%s refuses an image that is not one, naming %s', async (path, body, field, why) => {
    expect(await refused(path, body, field)).toMatch(why);
  });

  it('refuses the same face twice, whatever form each came in', async () => {
    await refused('/mj/insight-face/swap', { sourceBase64: PNG, targetBase64: PNG.split(',')[1] }, 'targetBase64');
    await refused('/mj/insight-face/swap', { sourceUrl: 'https://example.com/a.png', targetUrl: 'https://example.com/a.png' }, 'targetUrl');
    await accepted('/mj/insight-face/swap', { sourceBase64: PNG, targetBase64: PNG2 });
  });
});
