import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { groupExited, killGroup, run, runRole, type Proc } from '../support/proc.js';
import { client, mjUntil } from '../support/stack.js';

const procs: Proc[] = [];
afterAll(() => procs.forEach((p) => killGroup(p)));
const prefix = () => `e${randomBytes(4).toString('hex')}`;

describe('npm start', () => {
  it('prints a key once, simulates the upstream loudly, and runs an imagine to SUCCESS', async () => {
    const p = run('npm', ['start'], { REDIS_URL: inject('redisUrl'), PORT: '0', SIM_PORT: '0', QUEUE_PREFIX: prefix(), SIM_MJ_DURATION_MS: '300' });
    procs.push(p);
    const [, key] = await p.waitForOutput(/^\s+(sk-[A-Za-z0-9]{40})$/m);
    const [, url] = await p.waitForOutput(/listening on (http:\/\/\S+)/);
    expect(p.out()).toMatch(/SIMULATOR/);
    expect(p.out().split(key!).length - 1).toBe(1); // printed once, never logged
    const call = client(url!);
    const r = await call('POST', '/mj/submit/imagine', { key: key!, body: { prompt: 'a cat in a hat' } });
    expect(r.body.code).toBe(1);
    const done = await mjUntil(call, r.body.result, ['SUCCESS'], key!);
    expect(done.imageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sim\/image\//);
    const sdk = new OpenAI({ baseURL: `${url}/v1`, apiKey: key!, maxRetries: 0 });
    const chat = await sdk.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello relayq' }] });
    expect(chat.choices[0]!.message.content).toBe('Echo: hello relayq');
    expect(p.out()).not.toMatch(/authorization|bearer/i); // request logs carry no credentials
    // A failing progress read makes the worker's tracker log (a component of the worker part).
    const [, sim] = await p.waitForOutput(/"simulator":"(http:\/\/[^"]+)"/);
    await fetch(`${sim}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ route: 'list', kind: 'status', status: 500, times: 2 }) });
    await fetch(`${sim}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ route: 'fetch', kind: 'status', status: 500, times: 2 }) });
    const slow = await call('POST', '/mj/submit/imagine', { key: key!, body: { prompt: 'a slow cat' } });
    await mjUntil(call, slow.body.result, ['SUCCESS'], key!);
    await p.waitForOutput(/"component":"tracker"/);
    // npm re-raises the signal, so its own status says little; relayq's shutdown is in the log.
    killGroup(p, 'SIGTERM');
    await groupExited(p);
    expect(p.out()).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
    // The signal reached node twice (the process group, and npm passing it on): still one drain.
    expect(p.out()).not.toMatch(/second signal/);
    expect(p.out()).not.toMatch(/shutdown failed/);
    // Every log line is JSON with each key once (a child's binding must not repeat its parent's).
    const lines = p.out().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(5);
    // JSON.parse keeps one of two equal keys: a line with a repeated key comes back shorter.
    for (const line of lines) expect(JSON.stringify(JSON.parse(line)), line).toHaveLength(line.length);
  });
});

describe('npm start under Ctrl-C', () => {
  it('drains API and workers within one grace period, ending an open stream with an error', async () => {
    const p = run('npm', ['start'], { REDIS_URL: inject('redisUrl'), PORT: '0', SIM_PORT: '0', QUEUE_PREFIX: prefix(), SHUTDOWN_GRACE_SECONDS: '5', API_KEYS: 'acme:sk-acme-0123456789' });
    procs.push(p);
    const [, url] = await p.waitForOutput(/listening on (http:\/\/\S+)/);
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-acme-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-chat', stream: true, messages: [{ role: 'user', content: `${words} --sim-slow` }] }),
    });
    // Read until the stream flows, then press Ctrl-C (SIGINT to the whole process group).
    const reader = res.body!.getReader();
    let raw = new TextDecoder().decode((await reader.read()).value);
    const at = Date.now();
    killGroup(p, 'SIGINT');
    for (let r = await reader.read(); !r.done; r = await reader.read()) raw += new TextDecoder().decode(r.value);
    await groupExited(p, 30_000);
    // One grace period (5 s) and the teardown, not one for the API and then another for the workers.
    expect(Date.now() - at).toBeLessThan(9500);
    expect(raw).not.toContain('[DONE]');
    expect(raw).toMatch(/"code":"shutting_down"/);
  }, 90_000);
});

describe('split roles refuse a bad start with one readable line', () => {
  it.each([
    ['api/main.ts', 'API_KEYS is empty'],
    ['worker/main.ts', 'API_KEYS is empty'],
  ])('%s without API_KEYS', async (entry, reason) => {
    const p = runRole(entry, { REDIS_URL: inject('redisUrl'), PORT: '0' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain(reason);
    expect(p.err().trim().split('\n')).toHaveLength(1);
  });

  it('lists every invalid variable', async () => {
    const p = runRole('api/main.ts', { PORT: 'http', QUEUE_SHARDS: '0', API_KEYS: 'acme:sk-0123456789' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/PORT/);
    expect(p.err()).toMatch(/QUEUE_SHARDS/);
    expect(p.err().trim().split('\n')).toHaveLength(1);
  });

  it('says when Redis is unreachable', async () => {
    const p = runRole('worker/main.ts', { REDIS_URL: 'redis://:hunter2@127.0.0.1:1', API_KEYS: 'acme:sk-0123456789' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/Redis unreachable at redis:\/\/\*\*\*@127\.0\.0\.1:1/);
    expect(p.err()).not.toContain('hunter2');
  });
});
