import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimAnthropic } from '../../sim/anthropic.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

const claude = (content: string) => ({ model: 'claude-sim', max_tokens: 256, messages: [{ role: 'user' as const, content }] });
const chat = (content: string) => ({ model: 'sim-chat', messages: [{ role: 'user' as const, content }] });
/** A long upstream stream: 100 tokens, one every 100 ms. */
const long = (route: string) => ({ route, kind: 'stream' as const, chunks: 100, intervalMs: 100, times: 1 });

/** A plain streaming call whose client leaves (ESC, a stop button) stops the upstream; other calls keep theirs. */
describe('abandoned streams', () => {
  let s: Stack;
  const anthropicCalls = () => (s.sim.handles.anthropic as SimAnthropic).calls.length;
  const task = async (id: string | null) => (await s.call('GET', `/v1/tasks/${id}`)).body;
  const until = (id: string, status: string) => waitFor(async () => ((await task(id)).status === status ? task(id) : null), { what: `task ${id} to be ${status}` });
  /** Upstream calls the simulator is still answering. */
  const upstreamInFlight = async () => ((await (await fetch(`${s.sim.url}/_sim/stats`)).json()) as { inFlight: number }).inFlight;
  beforeAll(async () => {
    s = await startStack({ env: { STREAM_ABANDON_GRACE_MS: '1500', WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  /** Posts a stream call with fetch, reads until `events` events came, then leaves; resolves to the task id. */
  async function leaveAfter(path: string, body: unknown, events: number, headers: Record<string, string> = {}): Promise<string> {
    const ac = new AbortController();
    const res = await fetch(`${s.api.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < events) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    return res.headers.get('x-relayq-task-id')!;
  }

  it('cancels a plain Anthropic stream its client aborted, and the upstream call stops', async () => {
    s.sim.faults.add(long('anthropic'));
    const ac = new AbortController();
    const stream = new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 0 }).messages.stream(claude('stop me'), { signal: ac.signal });
    let deltas = 0;
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta' && ++deltas === 5) ac.abort();
    });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    const id = (await stream.withResponse()).response.headers.get('x-relayq-task-id');
    const done = await until(id!, 'canceled');
    expect(done.error).toMatchObject({ code: 'canceled' });
    // The simulator would stream for 10 s: the worker aborted its call long before.
    await waitFor(async () => (await upstreamInFlight()) === 0, { timeoutMs: 8000, what: 'the upstream call to be cut' });
  });

  it('cancels a plain OpenAI chat stream its client aborted', async () => {
    s.sim.faults.add(long('openai'));
    const ac = new AbortController();
    const { data: stream, response } = await new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 })
      .chat.completions.create({ ...chat('stop me'), stream: true }, { signal: ac.signal })
      .withResponse();
    let chunks = 0;
    const read = (async () => {
      for await (const _ of stream) if (++chunks === 5) ac.abort();
    })();
    // The openai SDK ends the iteration quietly (or with APIUserAbortError) once aborted.
    await read.catch((e: unknown) => expect(e).toBeInstanceOf(OpenAI.APIUserAbortError));
    expect(chunks).toBeLessThan(50);
    await until(response.headers.get('x-relayq-task-id')!, 'canceled');
    await waitFor(async () => (await upstreamInFlight()) === 0, { timeoutMs: 8000, what: 'the upstream call to be cut' });
  });

  it('keeps the task of a stream whose SDK retry joins it within the grace, calling the upstream once', async () => {
    s.sim.faults.add({ ...long('anthropic'), chunks: 30 });
    const before = anthropicCalls();
    const body = { ...claude('joined again'), stream: true };
    const id = await leaveAfter('/v1/messages', body, 3);
    // The retry comes once the relay saw the first client leave (its count of readers is gone).
    await waitFor(async () => !(await s.keys()).some((k) => k.endsWith(`:readers:${id}`)));
    const again = await fetch(`${s.api.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', 'x-stainless-retry-count': '1' },
      body: JSON.stringify(body),
    });
    expect(again.headers.get('x-relayq-task-id')).toBe(id);
    const text = await again.text();
    expect(text).toContain('event: message_stop');
    expect((await task(id)).status).toBe('succeeded');
    expect(anthropicCalls()).toBe(before + 1);
  });

  it('never cancels a stream call made with an Idempotency-Key, Prefer: wait or a webhook when its client leaves', async () => {
    s.sim.faults.add({ ...long('openai'), chunks: 30, times: 3 });
    const keyed = await leaveAfter('/v1/chat/completions', { ...chat('keep me'), stream: true }, 3, { 'idempotency-key': `abandon-${Date.now()}` });
    const waiting = await leaveAfter('/v1/chat/completions', { ...chat('keep me too'), stream: true }, 3, { prefer: 'wait=30' });
    // Nothing listens there: the delivery fails, the task does not care.
    const hooked = await leaveAfter('/v1/chat/completions', { ...chat('keep me three'), stream: true }, 3, { 'x-webhook-url': 'http://127.0.0.1:9/hook' });
    for (const id of [keyed, waiting, hooked]) expect((await until(id, 'succeeded')).output.choices[0].finish_reason).toBe('stop');
  });
});
