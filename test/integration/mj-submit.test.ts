import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, PNG, PNG2, startStack, type Stack } from '../support/stack.js';

/** Submissions without a worker: what the API answers and what it stores. */
describe('MJ submit routes', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { MAX_QUEUE_DEPTH: '1000', MJ_BANNED_WORDS: 'forbiddenword' } });
  });
  afterAll(() => s.close());

  const routes: [string, Record<string, unknown>][] = [
    ['/mj/submit/imagine', { prompt: 'a cat', base64Array: [PNG] }],
    ['/mj/submit/blend', { base64Array: [PNG, PNG2], dimensions: 'PORTRAIT' }],
    ['/mj/submit/describe', { base64: PNG }],
    ['/mj/submit/describe', { link: 'https://example.com/cat.png' }],
    ['/mj/submit/shorten', { prompt: 'a very long prompt about a cat' }],
    ['/mj/insight-face/swap', { sourceBase64: PNG, targetBase64: PNG2 }],
  ];

  it.each(routes)('accepts %s with code 1 or 22 and a relayq task id', async (path, body) => {
    const r = await s.call('POST', path, { body: { ...body, state: 'st-1' } });
    expect(r.status).toBe(200);
    expect([1, 22]).toContain(r.body.code);
    expect(r.body.result).toMatch(/^mj_[0-9A-Za-z]{20}$/);
    expect(r.headers.get('x-relayq-task-id')).toBe(r.body.result);
    const f = await s.call('GET', `/mj/task/${r.body.result}/fetch`);
    expect(f.headers.get('x-relayq-task-id')).toBe(r.body.result);
    expect(f.body).toMatchObject({ id: r.body.result, status: 'NOT_START', state: 'st-1', progress: '0%', startTime: null, finishTime: null, buttons: [] });
  });

  it('answers 22 with numberOfQueues when tasks wait ahead', async () => {
    const first = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'first' } });
    const second = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'second' } });
    expect(second.body.code).toBe(22);
    expect(second.body.properties.numberOfQueues).toBeGreaterThanOrEqual(1);
    expect(second.body.description).toMatch(/In queue/);
    expect(first.body.result).not.toBe(second.body.result);
  });

  it('shows a queued task its live position in the queue', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await s.call('POST', '/mj/submit/imagine', { body: { prompt: `pos ${i}` } })).body.result);
    const positions = await Promise.all(ids.map(async (id) => (await s.call('GET', `/v1/tasks/${id}`)).body.queue_position));
    expect(positions[1]! - positions[0]!).toBe(1);
    expect(positions[2]! - positions[1]!).toBe(1);
    await s.call('POST', `/mj/task/${ids[0]}/cancel`);
    expect((await s.call('GET', `/v1/tasks/${ids[2]}`)).body.queue_position).toBe(positions[2]! - 1);
    expect((await s.call('GET', `/v1/tasks/${ids[0]}`)).body.queue_position).toBeNull();
  });

  it('stores the task and its job together', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'stored' } });
    const id = r.body.result as string;
    const keys = await s.keys();
    expect(keys).toContain(`${s.config.QUEUE_PREFIX}:{mj}:task:${id}`);
    expect(keys).toContain(`${s.config.QUEUE_PREFIX}:{mj}:mj:${id}`);
  });

  it('keeps images in the blob store, not in job data', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'with image', base64Array: [PNG] } });
    const id = r.body.result as string;
    const job = await s.redis.hget(`${s.config.QUEUE_PREFIX}:{mj}:mj:${id}`, 'data');
    expect(JSON.parse(job!)).toEqual({ taskId: id });
    const blob = await s.redis.hgetBuffer(`${s.config.QUEUE_PREFIX}:{mj}:blobs:${id}`, 'image0');
    expect(blob?.equals(Buffer.from(PNG.split(',')[1]!, 'base64'))).toBe(true);
  });

  it('passes the speed mode of /mj-fast, /mj-relax and /mj-turbo into the task', async () => {
    for (const [prefix, mode] of [['/mj-fast', 'FAST'], ['/mj-relax', 'RELAX'], ['/mj-turbo', 'TURBO']] as const) {
      const r = await s.call('POST', `${prefix}/mj/submit/imagine`, { body: { prompt: 'fast cat' } });
      expect(r.body.code === 1 || r.body.code === 22).toBe(true);
      const f = await s.call('GET', `${prefix}/mj/task/${r.body.result}/fetch`);
      expect(f.body.properties.mode).toBe(mode);
    }
  });

  it('refuses a banned prompt with code 24 naming the word', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a ForbiddenWord here' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 24, result: null, properties: { bannedWord: 'forbiddenword' } });
  });

  it('answers code 3 with HTTP 404 for an action on an unknown parent', async () => {
    const r = await s.call('POST', '/mj/submit/action', { body: { taskId: 'mj_AAAAAAAAAAAAAAAAAAAA', customId: 'MJ::JOB::upsample::1::x' } });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe(3);
  });

  it('answers code 3 with HTTP 404 for a modal on an unknown task', async () => {
    const r = await s.call('POST', '/mj/submit/modal', { body: { taskId: '1689231405853400', prompt: 'x' } });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe(3);
  });

  it('refuses an action on a parent that has not finished with code 4', async () => {
    const parent = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'unfinished' } });
    const r = await s.call('POST', '/mj/submit/action', { body: { taskId: parent.body.result, customId: 'MJ::JOB::upsample::1::x' } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(4);
    expect(r.body.description).toMatch(/^taskId: parent task must be SUCCESS/);
  });

  it('answers 404 for fetch of an unknown id', async () => {
    const r = await s.call('GET', '/mj/task/mj_AAAAAAAAAAAAAAAAAAAA/fetch');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe(3);
  });

  it('lists by condition, omitting unknown ids', async () => {
    const a = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a' } });
    const b = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'b' } });
    const r = await s.call('POST', '/mj/task/list-by-condition', { body: { ids: [a.body.result, 'nope', 'mj_AAAAAAAAAAAAAAAAAAAA', b.body.result] } });
    expect(r.status).toBe(200);
    expect(r.body.map((t: { id: string }) => t.id).sort()).toEqual([a.body.result, b.body.result].sort());
    const empty = await s.call('POST', '/mj/task/list-by-condition', { body: {} });
    expect(empty.body).toEqual([]);
  });

  it('reads numeric ids in list-by-condition as strings and leaves out items that are no id', async () => {
    const a = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'numeric neighbours' } });
    const r = await s.call('POST', '/mj/task/list-by-condition', { body: { ids: [a.body.result, 1320098173412546, null, true, { id: 'x' }, ['y'], 1.5, a.body.result] } });
    expect(r.status).toBe(200);
    expect(r.body.map((t: { id: string }) => t.id)).toEqual([a.body.result]);
    const only = await s.call('POST', '/mj/task/list-by-condition', { body: { ids: [12345] } });
    expect(only).toMatchObject({ status: 200, body: [] });
    // Not a list at all is still refused, naming the field.
    const bad = await s.call('POST', '/mj/task/list-by-condition', { body: { ids: 'mj_x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.description).toMatch(/^ids: must be an array/);
  });

  it('reads a numeric taskId of an action or modal as an id, answering code 3 for an unknown one', async () => {
    for (const [path, body] of [
      ['/mj/submit/action', { taskId: 1712345678901234, customId: 'MJ::JOB::upsample::1::abc' }],
      ['/mj/submit/modal', { taskId: 1712345678901234, prompt: 'x' }],
    ] as const) {
      const r = await s.call('POST', path, { body });
      expect(r.status, path).toBe(404);
      expect(r.body, path).toMatchObject({ code: 3, description: expect.stringContaining('1712345678901234') });
    }
  });

  it('lists the tenant latest tasks and its queue', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'listed' } });
    const list = await s.call('GET', '/mj/task/list');
    expect(list.body[0].id).toBe(r.body.result);
    expect(list.body.length).toBeLessThanOrEqual(100);
    const queue = await s.call('GET', '/mj/task/queue');
    expect(queue.body.map((t: { id: string }) => t.id)).toContain(r.body.result);
    expect(queue.body.every((t: { status: string }) => t.status === 'NOT_START' || t.status === 'SUBMITTED' || t.status === 'IN_PROGRESS')).toBe(true);
    const times = queue.body.map((t: { submitTime: number }) => t.submitTime);
    expect([...times].sort((x, y) => x - y)).toEqual(times);
  });
});

describe('authentication', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false });
  });
  afterAll(() => s.close());

  it('accepts Bearer, a bare Authorization and mj-api-secret', async () => {
    for (const headers of [{ authorization: `Bearer ${KEYS.acme}` }, { authorization: KEYS.acme }, { 'mj-api-secret': KEYS.acme }] as Record<string, string>[]) {
      const r = await s.call('POST', '/mj/submit/imagine', { key: null, headers, body: { prompt: 'auth' } });
      expect(r.status).toBe(200);
    }
  });

  it('takes the key from mj-api-secret when Authorization holds a placeholder, as new-api pollers send it', async () => {
    for (const authorization of ['Bearer midjourney-proxy', 'midjourney-proxy', 'Bearer ', 'Bearer sk-stale-0123456789']) {
      const r = await s.call('POST', '/mj/submit/imagine', { key: null, headers: { authorization, 'mj-api-secret': KEYS.acme }, body: { prompt: 'placeholder' } });
      expect(r.status, authorization).toBe(200);
      const v1 = await s.call('GET', `/v1/tasks/${r.body.result}`, { key: null, headers: { authorization, 'mj-api-secret': `Bearer ${KEYS.acme}` } });
      expect(v1.status, authorization).toBe(200);
    }
  });

  it('accepts x-api-key, as the Anthropic SDKs send it, and tries it after the other headers', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { key: null, headers: { 'x-api-key': KEYS.acme }, body: { prompt: 'x-api-key' } });
    expect(r.status).toBe(200);
    const behind = await s.call('GET', `/v1/tasks/${r.body.result}`, { key: null, headers: { authorization: 'Bearer placeholder', 'x-api-key': KEYS.acme } });
    expect(behind.status).toBe(200);
    // The first known key decides the tenant: beta's Authorization wins over acme's x-api-key.
    const first = await s.call('GET', `/v1/tasks/${r.body.result}`, { key: KEYS.beta, headers: { 'x-api-key': KEYS.acme } });
    expect(first.status).toBe(404);
  });

  it('answers 401 when no presented header holds a known key', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', {
      key: null,
      headers: { authorization: 'Bearer midjourney-proxy', 'mj-api-secret': 'sk-wrong-0123456789', 'x-api-key': '' },
      body: { prompt: 'x' },
    });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 4, description: 'missing or unknown API key' });
  });

  it('answers 401 with a JSON body for a missing or unknown key', async () => {
    for (const key of [null, 'sk-wrong-0123456789']) {
      const r = await s.call('POST', '/mj/submit/imagine', { key, body: { prompt: 'x' } });
      expect(r.status).toBe(401);
      expect(r.body.description).toMatch(/API key/);
      const v1 = await s.call('GET', '/v1/tasks/mj_AAAAAAAAAAAAAAAAAAAA', { key });
      expect(v1.status).toBe(401);
      expect(v1.body.error.type).toBe('authentication_error');
    }
  });

  it('leaves /healthz, /readyz and the docs open', async () => {
    expect((await s.call('GET', '/healthz', { key: null })).status).toBe(200);
    const docs = await s.call('GET', '/docs/readme', { key: null });
    expect(docs.status).toBe(200);
    expect(docs.body).toContain('/mj/submit/imagine');
    expect((await s.call('GET', '/readyz', { key: null })).body).toEqual({ status: 'ready' });
  });
});

describe('backlog limit', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { MAX_QUEUE_DEPTH: '2' } });
  });
  afterAll(() => s.close());

  it('refuses with code 23 and HTTP 429 once MAX_QUEUE_DEPTH tasks wait', async () => {
    await s.call('POST', '/mj/submit/imagine', { body: { prompt: '1' } });
    await s.call('POST', '/mj/submit/imagine', { body: { prompt: '2' } });
    const before = (await s.keys()).length;
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: '3' } });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 23, result: null });
    expect(r.headers.get('retry-after')).toBeTruthy();
    expect((await s.keys()).length).toBe(before);
  });
});

describe('rate limit', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { RATE_LIMIT_PER_MINUTE: '3' } });
  });
  afterAll(() => s.close());

  it('answers 429 with Retry-After past the per-tenant limit, and other tenants still submit', async () => {
    for (let i = 0; i < 3; i++) expect((await s.call('POST', '/mj/submit/imagine', { body: { prompt: `p${i}` } })).status).toBe(200);
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'over' } });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await s.call('POST', '/mj/submit/imagine', { key: KEYS.beta, body: { prompt: 'beta' } })).status).toBe(200);
  });
});
