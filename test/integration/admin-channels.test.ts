import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

describe('GET /admin/channels', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('is for admin keys only', async () => {
    const r = await s.call('GET', '/admin/channels');
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ type: 'permission_error', message: expect.stringMatching(/ADMIN_KEYS/) });
    expect((await s.call('GET', '/admin/channels', { key: null })).status).toBe(401);
  });

  it('shows every channel with its state and never its key', async () => {
    await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'x' } });
    const r = await s.call('GET', '/admin/channels', { key: KEYS.admin });
    expect(r.status).toBe(200);
    expect(r.body.data.map((c: any) => c.name).sort()).toEqual(['default', 'default-openai', ...s.config.channels.filter((c) => c.name.startsWith('sim-')).map((c) => c.name)].sort());
    const oa = r.body.data.find((c: any) => c.name === 'default-openai');
    expect(oa).toMatchObject({ type: 'openai', state: 'healthy', enabled: true, in_flight: 0, rpm_used: 1, consecutive_failures: 0, limits: { concurrency: null, rpm: null } });
    expect(JSON.stringify(r.body)).not.toContain('sk-upstream-0123456789');
  });

  it('shows admins which channel served a task and every attempt; tenants see neither', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: 'nope', type: 'invalid_request_error' } } });
    const failed = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'refused' } });
    const ok = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'served' } });
    const adminView = (await s.call('GET', `/v1/tasks/${ok.headers.get('x-relayq-task-id')}`, { key: KEYS.admin })).body;
    expect(adminView).toMatchObject({ channel: 'default-openai', channel_attempts: [{ channel: 'default-openai', outcome: 'succeeded' }] });
    const refused = (await s.call('GET', `/v1/tasks/${failed.headers.get('x-relayq-task-id')}`, { key: KEYS.admin })).body;
    expect(refused.channel_attempts).toMatchObject([{ channel: 'default-openai', outcome: 'failed', status: 400, error: 'nope' }]);
    const tenantView = (await s.call('GET', `/v1/tasks/${ok.headers.get('x-relayq-task-id')}`)).body;
    expect(tenantView).not.toHaveProperty('channel');
    expect(tenantView).not.toHaveProperty('channel_attempts');
  });
});
