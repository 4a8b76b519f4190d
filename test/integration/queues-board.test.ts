import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../shared/families/catalog.js';
import { KEYS, startStack, type Stack } from '../support/stack.js';

describe('queue dashboard at /admin/queues', () => {
  let s: Stack;
  const logLines: string[] = [];
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${s.api.url}${path}`, { headers, redirect: 'manual' });
  const login = (key: string, headers: Record<string, string> = {}) =>
    fetch(`${s.api.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ key }).toString(), redirect: 'manual' });
  /** The `name=value` part of a Set-Cookie header. */
  const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

  beforeAll(async () => {
    s = await startStack({ worker: false, logLines, env: { QUEUE_SHARDS: '2', LOG_LEVEL: 'info' } });
  });
  afterAll(() => s?.close());

  it('refuses tenant keys and requests without a key', async () => {
    expect((await get('/admin/queues/api/queues', { authorization: `Bearer ${KEYS.acme}` })).status).toBe(403);
    expect((await get('/admin/queues/api/queues')).status).toBe(401);
  });

  it('shows every queue and shard to an admin key sent as Authorization: Bearer', async () => {
    const res = await get('/admin/queues/api/queues', { authorization: `Bearer ${KEYS.admin}` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: { name: string }[] };
    const names = body.queues.map((q) => q.name).sort();
    expect(names).toEqual([...QUEUE_NAMES, ...QUEUE_NAMES.map((q) => `shard1-${q}`)].sort());
  });

  it('is read-only: no job can be removed, cleaned or retried from it (that would strand its task)', async () => {
    const res = await get('/admin/queues/api/queues', { authorization: `Bearer ${KEYS.admin}` });
    const body = (await res.json()) as { queues: { name: string; readOnlyMode: boolean; allowRetries: boolean }[] };
    expect(body.queues.every((q) => q.readOnlyMode && !q.allowRetries)).toBe(true);
    const put = await fetch(`${s.api.url}/admin/queues/api/queues/mj/pause`, { method: 'PUT', headers: { authorization: `Bearer ${KEYS.admin}` } });
    expect(put.status).toBeGreaterThanOrEqual(400);
  });

  it('sends a browser without a session to the sign-in form', async () => {
    const res = await get('/admin/queues/', { accept: 'text/html' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/login');
    const form = await get('/admin/login');
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('<form method="post" action="/admin/login">');
  });

  it('signs an admin in with a cookie that holds no key, for the dashboard only, and signs out', async () => {
    expect((await login(KEYS.acme)).status).toBe(401);
    const res = await login(KEYS.admin);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/queues/');
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^relayq_admin=v1\./);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\/admin/);
    expect(setCookie).not.toMatch(/Secure/);
    expect(setCookie).not.toContain(KEYS.admin);
    const cookie = { cookie: cookieOf(res) };

    const page = await get('/admin/queues/', { ...cookie, accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    expect((await get('/admin/queues/api/queues', cookie)).status).toBe(200);
    // The cookie opens the dashboard, nothing else.
    expect((await get('/admin/channels', cookie)).status).toBe(401);
    expect((await get('/v1/tasks', cookie)).status).toBe(401);
    // A forged or altered session is refused.
    expect((await get('/admin/queues/api/queues', { cookie: cookie.cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).status).toBe(401);
    expect((await get('/admin/queues/api/queues', { cookie: `relayq_admin=v1.${Date.now() + 60_000}.${'A'.repeat(43)}` })).status).toBe(401);

    const out = await fetch(`${s.api.url}/admin/logout`, { method: 'POST', headers: cookie, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^relayq_admin=; .*Max-Age=0/);
  });

  it('marks the cookie Secure behind an https proxy', async () => {
    const res = await login(KEYS.admin, { 'x-forwarded-proto': 'https' });
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('never writes the key to the logs or a URL', async () => {
    const res = await login(KEYS.admin);
    expect(res.headers.get('location')).not.toContain(KEYS.admin);
    await login('sk-wrong-0123456789');
    expect(logLines.length).toBeGreaterThan(0);
    const logs = logLines.join('\n');
    expect(logs).toContain('/admin/login');
    expect(logs).not.toContain(KEYS.admin);
    expect(logs).not.toContain('sk-wrong-0123456789');
  });
});

describe('dashboard sign-in attempts', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false });
  });
  afterAll(() => s?.close());
  const login = (key: string) =>
    fetch(`${s.api.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key }).toString(), redirect: 'manual' });

  it('refuses an address after 10 failed sign-ins for 15 minutes, even with the right key, and says when to come back', async () => {
    expect((await login(KEYS.admin)).status).toBe(303);
    for (let i = 0; i < 10; i++) expect((await login(`sk-guess-${i}-0123456789`)).status).toBe(401);
    const locked = await login(KEYS.admin);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(900);
    expect(await locked.text()).toMatch(/Too many failed sign-ins/);
    expect(locked.headers.get('set-cookie')).toBeNull();
    // An X-Forwarded-For of the caller's choosing changes nothing without TRUST_PROXY.
    const spoofed = await fetch(`${s.api.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.9' }, body: new URLSearchParams({ key: KEYS.admin }).toString(), redirect: 'manual' });
    expect(spoofed.status).toBe(429);
    // Keys in a header are not affected.
    expect((await fetch(`${s.api.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).status).toBe(200);
    // The window ends: sign-in works again.
    await s.redis.del(`${s.config.QUEUE_PREFIX}:admin-login-failures:127.0.0.1`);
    expect((await login(KEYS.admin)).status).toBe(303);
  });
});

describe('dashboard sign-in attempts behind a trusted proxy (TRUST_PROXY)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { TRUST_PROXY: '127.0.0.1' } });
  });
  afterAll(() => s?.close());
  const login = (key: string, client: string) =>
    fetch(`${s.api.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client }, body: new URLSearchParams({ key }).toString(), redirect: 'manual' });

  it('counts failures per client address the proxy names, so one client cannot lock out the others', async () => {
    for (let i = 0; i < 10; i++) expect((await login(`sk-guess-${i}-0123456789`, '203.0.113.9')).status).toBe(401);
    expect((await login(KEYS.admin, '203.0.113.9')).status).toBe(429);
    expect((await login(KEYS.admin, '198.51.100.7')).status).toBe(303);
  });
});
