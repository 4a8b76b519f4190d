import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/**
 * Browser clients calling relayq from another origin (midjourney-proxy web clients where the user
 * sets the server address, the OpenAI SDK with dangerouslyAllowBrowser): the preflight carries no
 * key, and a script only reads the headers it is allowed to.
 */
const ORIGIN = 'https://chat.example.com';

async function preflight(url: string, origin = ORIGIN, requested = 'content-type,mj-api-secret') {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requested } });
}

/** A request with an Origin header; the answer's headers, its body left unread. */
async function from(url: string, init: RequestInit & { headers?: Record<string, string> } = {}, origin = ORIGIN) {
  const ac = new AbortController();
  const res = await fetch(url, { ...init, headers: { origin, ...init.headers }, signal: ac.signal });
  ac.abort();
  return res;
}

describe('CORS with the default CORS_ORIGINS (*)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('answers a browser preflight without a key: 204, any origin, the methods and the headers asked for', async () => {
    for (const path of ['/mj/submit/imagine', '/mj-fast/mj/task/list-by-condition', '/v1/chat/completions', '/v1/tasks/mj_AAAAAAAAAAAAAAAAAAAA/events']) {
      const r = await preflight(`${s.api.url}${path}`, ORIGIN, 'authorization,content-type,mj-api-secret,x-stainless-retry-count,prefer');
      expect(r.status, path).toBe(204);
      expect(r.headers.get('access-control-allow-origin'), path).toBe('*');
      expect(r.headers.get('access-control-allow-methods'), path).toMatch(/POST/);
      expect(r.headers.get('access-control-allow-headers'), path).toBe('authorization,content-type,mj-api-secret,x-stainless-retry-count,prefer');
      expect(Number(r.headers.get('access-control-max-age')), path).toBeGreaterThan(0);
    }
  });

  it('marks answers and refusals with the origin and exposes the headers clients read', async () => {
    const ok = await from(`${s.api.url}/mj/submit/imagine`, { method: 'POST', headers: { 'mj-api-secret': KEYS.acme, 'content-type': 'application/json' }, body: '{"prompt":"cors"}' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = ok.headers.get('access-control-expose-headers')?.split(/,\s*/) ?? [];
    expect(exposed).toEqual(expect.arrayContaining(['x-relayq-task-id', 'location', 'retry-after', 'retry-after-ms', 'x-should-retry']));
    const unauthorized = await from(`${s.api.url}/mj/submit/imagine`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe('*');
    const invalid = await from(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: '{}' });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('exposes the pace of video polls and the request id of Anthropic answers', async () => {
    const video = await from(`${s.api.url}/v1/videos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'sora-2', prompt: 'a fox across origins' }),
    });
    expect(video.status).toBe(202);
    expect(Number(video.headers.get('openai-poll-after-ms'))).toBeGreaterThan(0);
    const exposed = video.headers.get('access-control-expose-headers')?.split(/,\s*/) ?? [];
    expect(exposed).toEqual(expect.arrayContaining(['openai-poll-after-ms', 'request-id']));
    const message = await from(`${s.api.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEYS.acme, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sim', max_tokens: 64, messages: [{ role: 'user', content: 'hello across origins' }] }),
    });
    expect(message.status).toBe(200);
    expect(message.headers.get('request-id')).toMatch(/^anthropic/);
    expect(message.headers.get('access-control-expose-headers')?.split(/,\s*/)).toEqual(expect.arrayContaining(['request-id']));
  });

  it('keeps the CORS headers on streams (token streams and task events)', async () => {
    const chat = await from(`${s.api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-chat', stream: true, messages: [{ role: 'user', content: 'stream across origins' }] }),
    });
    expect(chat.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(chat.headers.get('access-control-allow-origin')).toBe('*');
    expect(chat.headers.get('access-control-expose-headers')).toMatch(/x-relayq-task-id/);
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'events across origins' } });
    const events = await from(`${s.api.url}/v1/tasks/${body.result}/events`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(events.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('CORS with CORS_ORIGINS listing origins', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { CORS_ORIGINS: 'https://chat.example.com, http://localhost:1002/' } });
  });
  afterAll(() => s.close());

  it('echoes a listed origin (with Vary: Origin) and leaves any other without the header', async () => {
    for (const origin of [ORIGIN, 'http://localhost:1002']) {
      const r = await preflight(`${s.api.url}/mj/submit/imagine`, origin);
      expect(r.status).toBe(204);
      expect(r.headers.get('access-control-allow-origin')).toBe(origin);
      expect(r.headers.get('vary')).toMatch(/origin/i);
    }
    const other = await preflight(`${s.api.url}/mj/submit/imagine`, 'https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const get = await from(`${s.api.url}/mj/task/list`, { headers: { 'mj-api-secret': KEYS.acme } }, 'https://evil.example.com');
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS turned off (CORS_ORIGINS empty)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { CORS_ORIGINS: '' } });
  });
  afterAll(() => s.close());

  it('sends no CORS header and keeps OPTIONS behind the key', async () => {
    const r = await preflight(`${s.api.url}/mj/submit/imagine`);
    expect(r.status).toBe(401);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const get = await from(`${s.api.url}/mj/task/list`, { headers: { 'mj-api-secret': KEYS.acme } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});
