import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/**
 * The literal case of UPSTREAM_TIMEOUT_SECONDS as an idle timeout: a stream of one chunk a second
 * for 90 s (longer than the 60 s default) arrives whole, with the default settings, through the
 * official SDK.
 */
describe('a long, steady stream', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
    expect(s.config.UPSTREAM_TIMEOUT_SECONDS).toBe(60);
  });
  afterAll(() => s.close());

  it('arrives whole: one chunk a second for 90 s, default settings, official SDK', async () => {
    const client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    s.sim.faults.add({ route: 'openai', kind: 'stream', chunks: 90, intervalMs: 1000, times: 1 });
    const started = Date.now();
    const { data: stream, response } = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'take your time' }], stream: true }).withResponse();
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta?.content) pieces.push(c.delta.content);
      finish = c?.finish_reason ?? finish;
    }
    expect(Date.now() - started).toBeGreaterThan(89_000);
    expect(pieces.join('')).toBe(Array.from({ length: 90 }, (_, i) => `t${i + 1}`).join(' '));
    expect(finish).toBe('stop');
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body;
    expect(task).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});
