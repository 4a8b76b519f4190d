import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG, PNG2, startStack, type Stack } from '../support/stack.js';

/**
 * Bad input on every field of every MJ route: HTTP 4xx, code 4, a description that starts with
 * the field, and not a single key written.
 */
const long = (n: number) => 'x'.repeat(n);

const cases: [string, string, unknown, string][] = [
  // route, what, body, field named
  ['/mj/submit/imagine', 'no prompt', {}, 'prompt'],
  ['/mj/submit/imagine', 'a blank prompt', { prompt: '   ' }, 'prompt'],
  ['/mj/submit/imagine', 'a numeric prompt', { prompt: 42 }, 'prompt'],
  ['/mj/submit/imagine', 'a too long prompt', { prompt: long(8193) }, 'prompt'],
  ['/mj/submit/imagine', 'a non-array base64Array', { prompt: 'p', base64Array: PNG }, 'base64Array'],
  ['/mj/submit/imagine', 'a base64Array item that is not a data URL', { prompt: 'p', base64Array: [PNG, 'aGVsbG8='] }, 'base64Array[1]'],
  ['/mj/submit/imagine', 'a data URL with broken base64', { prompt: 'p', base64Array: ['data:image/png;base64,@@@'] }, 'base64Array[0]'],
  ['/mj/submit/imagine', 'six images', { prompt: 'p', base64Array: Array(6).fill(PNG) }, 'base64Array'],
  ['/mj/submit/imagine', 'a notifyHook that is not a URL', { prompt: 'p', notifyHook: 'not a url' }, 'notifyHook'],
  ['/mj/submit/imagine', 'a ftp notifyHook', { prompt: 'p', notifyHook: 'ftp://example.com/hook' }, 'notifyHook'],
  ['/mj/submit/imagine', 'a too long notifyHook', { prompt: 'p', notifyHook: `https://example.com/${long(2000)}` }, 'notifyHook'],
  ['/mj/submit/imagine', 'a too long state', { prompt: 'p', state: long(256) }, 'state'],
  ['/mj/submit/imagine', 'a non-string state', { prompt: 'p', state: { a: 1 } }, 'state'],
  ['/mj/submit/blend', 'no images', {}, 'base64Array'],
  ['/mj/submit/blend', 'one image', { base64Array: [PNG] }, 'base64Array'],
  ['/mj/submit/blend', 'six images', { base64Array: Array(6).fill(PNG) }, 'base64Array'],
  ['/mj/submit/blend', 'a bad image', { base64Array: [PNG, 'nope'] }, 'base64Array[1]'],
  ['/mj/submit/blend', 'an unknown dimensions', { base64Array: [PNG, PNG2], dimensions: 'WIDE' }, 'dimensions'],
  ['/mj/submit/blend', 'a bad botType', { base64Array: [PNG, PNG2], botType: 1 }, 'botType'],
  ['/mj/submit/describe', 'neither base64 nor link', {}, 'base64'],
  ['/mj/submit/describe', 'a base64 that is not a data URL', { base64: 'abc' }, 'base64'],
  ['/mj/submit/describe', 'a link that is not http(s)', { link: 'file:///etc/passwd' }, 'link'],
  ['/mj/submit/describe', 'both base64 and link', { base64: PNG, link: 'https://example.com/a.png' }, 'link'],
  ['/mj/submit/shorten', 'no prompt', {}, 'prompt'],
  ['/mj/submit/shorten', 'a blank prompt', { prompt: '' }, 'prompt'],
  ['/mj/submit/action', 'no taskId', { customId: 'MJ::JOB::upsample::1::h' }, 'taskId'],
  ['/mj/submit/action', 'no customId', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA' }, 'customId'],
  ['/mj/submit/action', 'a blank customId', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', customId: '' }, 'customId'],
  ['/mj/submit/action', 'a bad notifyHook', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', customId: 'MJ::x', notifyHook: 'x' }, 'notifyHook'],
  ['/mj/submit/modal', 'no taskId', { prompt: 'p' }, 'taskId'],
  ['/mj/submit/modal', 'a bad maskBase64', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', maskBase64: 'abc' }, 'maskBase64'],
  ['/mj/submit/modal', 'a numeric prompt', { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', prompt: 5 }, 'prompt'],
  ['/mj/insight-face/swap', 'no source', { targetBase64: PNG }, 'sourceBase64'],
  ['/mj/insight-face/swap', 'no target', { sourceBase64: PNG }, 'targetBase64'],
  ['/mj/insight-face/swap', 'a bad source', { sourceBase64: 'x', targetBase64: PNG }, 'sourceBase64'],
  ['/mj/insight-face/swap', 'the same image twice', { sourceBase64: PNG, targetBase64: PNG }, 'targetBase64'],
  ['/mj/task/list-by-condition', 'ids that are not an array', { ids: 'a,b' }, 'ids'],
  ['/mj/task/list-by-condition', 'more than 1000 ids', { ids: Array(1001).fill('x') }, 'ids'],
];

describe('MJ bad input', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false });
  });
  afterAll(() => s.close());

  it.each(cases)('%s: refuses %s naming %s, creating nothing', async (route, _what, body, field) => {
    const before = await s.keys();
    const r = await s.call('POST', route, { body });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.code).toBe(4);
    expect(r.body.result).toBeNull();
    expect(r.body.description.startsWith(`${field}: `)).toBe(true);
    expect((await s.keys()).sort()).toEqual(before.sort());
  });

  it('refuses a body that is not JSON with a 400 naming the body', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: '{"prompt": ', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(4);
    expect(r.body.description).toMatch(/^body: /);
  });

  it('refuses a body over MAX_BODY_BYTES with 413', async () => {
    const small = await startStack({ worker: false, env: { MAX_BODY_BYTES: '2048' } });
    try {
      const r = await small.call('POST', '/mj/submit/imagine', { body: { prompt: long(4096) } });
      expect(r.status).toBe(413);
      expect(r.body.code).toBe(4);
      // Nothing of a task; only the queues' own meta records, which BullMQ writes for every queue
      // the API opens (the queue dashboard opens them all at start).
      expect((await small.keys()).filter((k) => !k.endsWith(':meta'))).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('answers an unknown route with a 404 envelope', async () => {
    const r = await s.call('POST', '/mj/submit/dance', { body: {} });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe(3);
  });
});
