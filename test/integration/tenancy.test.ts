import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, mjUntil, PNG, startStack, type Stack } from '../support/stack.js';

/** Another tenant's task is invisible on every route: 404, never its data. */
describe('tenant isolation', () => {
  let s: Stack;
  let done: string;
  let modal: string;
  let queued: string;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 200 } });
    done = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'acme secret plan' } })).body.result;
    const finished = await mjUntil(s.call, done, ['SUCCESS']);
    const up = (await s.call('POST', '/mj/submit/action', { body: { taskId: done, customId: finished.buttons[0].customId } })).body.result;
    const upscaled = await mjUntil(s.call, up, ['SUCCESS']);
    const zoom = upscaled.buttons.find((b: { label: string }) => b.label === 'Custom Zoom').customId;
    modal = (await s.call('POST', '/mj/submit/action', { body: { taskId: up, customId: zoom } })).body.result;
    queued = (await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'acme queued --sim-stuck' } })).body.result;
  });
  afterAll(() => s.close());

  const beta = { key: KEYS.beta };

  const cases: [string, string, () => string, (() => unknown) | undefined][] = [
    ['fetch', 'GET', () => `/mj/task/${done}/fetch`, undefined],
    ['image-seed', 'GET', () => `/mj/task/${done}/image-seed`, undefined],
    ['MJ cancel', 'POST', () => `/mj/task/${queued}/cancel`, undefined],
    ['generic get', 'GET', () => `/v1/tasks/${done}`, undefined],
    ['generic cancel', 'POST', () => `/v1/tasks/${queued}/cancel`, undefined],
    ['action on a foreign parent', 'POST', () => '/mj/submit/action', () => ({ taskId: done, customId: 'MJ::JOB::upsample::1::x' })],
    ['modal on a foreign task', 'POST', () => '/mj/submit/modal', () => ({ taskId: modal, prompt: 'steal', maskBase64: PNG })],
  ];

  it.each(cases)('%s answers 404 to another tenant', async (_label, method, path, body) => {
    const r = await s.call(method, path(), { ...beta, body: body?.() });
    expect(r.status).toBe(404);
    expect(JSON.stringify(r.body)).not.toContain('acme secret plan');
  });

  it('leaves the task untouched after the foreign attempts', async () => {
    expect((await s.call('GET', `/mj/task/${queued}/fetch`)).body.status).not.toBe('CANCEL');
    expect((await s.call('GET', `/mj/task/${modal}/fetch`)).body.status).toBe('MODAL');
  });

  it('omits foreign tasks from list-by-condition, list and queue', async () => {
    const byIds = await s.call('POST', '/mj/task/list-by-condition', { ...beta, body: { ids: [done, modal, queued] } });
    expect(byIds.body).toEqual([]);
    const list = await s.call('GET', '/mj/task/list', beta);
    expect(list.body).toEqual([]);
    const queue = await s.call('GET', '/mj/task/queue', beta);
    expect(queue.body).toEqual([]);
    const own = await s.call('GET', '/mj/task/list');
    expect(own.body.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining([done, modal, queued]));
  });

  it('lets an admin key read any tenant task', async () => {
    const r = await s.call('GET', `/mj/task/${done}/fetch`, { key: KEYS.admin });
    expect(r.body.id).toBe(done);
  });
});
