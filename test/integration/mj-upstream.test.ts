import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mjUntil, startStack, waitFor, type Stack, simMj } from '../support/stack.js';

/** Upstream MJ answers in the field types real proxies send, read leniently end to end. */
describe('upstream MJ tasks read leniently', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ sim: { mjDurationMs: 300 }, env: { MJ_POLL_INTERVAL_MS: '50' } });
  });
  afterEach(() => {
    simMj(s.sim).reshape = null;
    s.sim.faults.clear();
  });
  afterAll(() => s.close());

  const imagine = async (prompt: string) => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt } });
    expect(r.body.code, JSON.stringify(r.body)).toBe(1);
    return r.body.result as string;
  };

  it('finishes a task the upstream reports as SUCCESS with "progress": 100 as a number', async () => {
    simMj(s.sim).reshape = (t) => ({ ...t, progress: Number.parseInt(String(t.progress), 10) || 0 });
    const id = await imagine('numeric progress');
    const done = await mjUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done).toMatchObject({ status: 'SUCCESS', progress: '100%', failReason: null });
    expect(done.buttons).toHaveLength(9);
  });

  it('shows progress sent as 45.5, "45" or " 45 %" as "45%"', async () => {
    for (const progress of [45.5, '45', ' 45 %']) {
      simMj(s.sim).reshape = (t) => ({ ...t, status: 'IN_PROGRESS', progress });
      const id = await imagine(`progress ${String(progress)} --sim-stuck`);
      const seen = await waitFor(async () => {
        const r = await s.call('GET', `/mj/task/${id}/fetch`);
        return r.body.status === 'IN_PROGRESS' ? r.body : null;
      });
      expect(seen.progress).toBe('45%');
    }
  });

  it('runs a whole flow against an upstream that answers numeric ids, results and progress, and buttons without type or style', async () => {
    const id = await imagine('odd proxy --sim-odd');
    const done = await mjUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done.status).toBe('SUCCESS');
    expect(done.buttons[0]).toEqual({ customId: expect.stringMatching(/^MJ::JOB::upsample::1::/), emoji: '', label: 'U1', type: 2, style: 2 });
    const u1 = await s.call('POST', '/mj/submit/action', { body: { taskId: id, customId: done.buttons[0].customId } });
    expect(u1.body.code).toBe(1);
    expect((await mjUntil(s.call, u1.body.result, ['SUCCESS', 'FAILURE'])).status).toBe('SUCCESS');
  });

  it('keeps every digit of a long numeric upstream id, with the submit code sent as a string', async () => {
    const big = '1712345678901234567';
    s.sim.faults.add({ route: 'submit', kind: 'body', body: `{"code":"1","description":"Submit success","result":${big},"properties":null}`, times: 1 });
    s.sim.faults.add({
      route: 'list',
      kind: 'body',
      body: `[{"id":${big},"status":"SUCCESS","progress":100,"imageUrl":"https://cdn.example/big.png","failReason":null,"buttons":null,"properties":null}]`,
    });
    const id = await imagine('long id');
    const done = await mjUntil(s.call, id, ['SUCCESS', 'FAILURE']);
    expect(done).toMatchObject({ status: 'SUCCESS', imageUrl: 'https://cdn.example/big.png', buttons: [] });
  });

  it('fails a submit answered with an OpenAI-style error instead of an MJ envelope with the relay\'s message', async () => {
    s.sim.faults.add({ route: 'submit', kind: 'body', body: { error: { message: 'token quota is not enough', type: 'new_api_error', code: 'insufficient_user_quota' } }, times: 1 });
    const id = await imagine('no quota left');
    const done = await mjUntil(s.call, id, ['FAILURE', 'SUCCESS']);
    expect(done).toMatchObject({ status: 'FAILURE', failReason: 'token quota is not enough' });
  });

  it("fails a submit refused in trueai-org's shape with its message, not its code", async () => {
    s.sim.faults.add({ route: 'submit', kind: 'body', body: { success: false, code: 500, message: '今日绘图次数已达上限 (daily limit reached)', timestamp: 1712345678901 }, times: 1 });
    const id = await imagine('over the daily limit');
    const done = await mjUntil(s.call, id, ['FAILURE', 'SUCCESS']);
    expect(done).toMatchObject({ status: 'FAILURE', failReason: '今日绘图次数已达上限 (daily limit reached)' });
  });

  it("retries a submit that a new-api relay answered with code 30 (its own channel rate limited)", async () => {
    s.sim.faults.add({ route: 'submit', kind: 'body', body: { code: 30, description: '当前分组负载已饱和，请稍后再试', type: 'upstream_error' }, times: 1 });
    const id = await imagine('after a saturated relay');
    const done = await mjUntil(s.call, id, ['FAILURE', 'SUCCESS']);
    expect(done.status).toBe('SUCCESS');
    expect((await s.call('GET', `/v1/tasks/${id}`)).body.attempts).toBe(2);
  });

  it('skips only an item without a usable id; the others in the same answer are followed', async () => {
    simMj(s.sim).reshape = (t) => (String(t.prompt).includes('no id') ? { ...t, id: null } : { ...t, progress: 'weird', properties: 'nope' });
    const lost = await imagine('no id --sim-stuck');
    const fine = await imagine('still fine');
    expect((await mjUntil(s.call, fine, ['SUCCESS', 'FAILURE'])).status).toBe('SUCCESS');
    expect((await s.call('GET', `/mj/task/${lost}/fetch`)).body.status).toBe('SUBMITTED');
  });
});
