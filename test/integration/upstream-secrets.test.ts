import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/**
 * Upstreams quote the key they were given in their refusals ("Incorrect API key provided: sk-…",
 * "invalid x-api-key sk-ant-…"); relayq relays upstream error text, and must never relay a
 * channel's key. A refusal of relayq's own credentials is relayq's trouble, not the client's 401.
 */
describe('channel keys in upstream answers', () => {
  let s: Stack;
  let openai: OpenAI;
  beforeAll(async () => {
    s = await startStack({ env: { JOB_ATTEMPTS: '1' } });
    openai = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(async () => {
    s.sim.faults.clear();
    await openai.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'healthy again' }] });
  });
  afterAll(() => s.close());

  const upstreamKey = () => s.config.channels.find((c) => c.type === 'openai' && c.key)!.key;

  it('answers a refused channel key as a 502 of relayq, never the client 401, and never with the key', async () => {
    const key = upstreamKey();
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 401, times: 1, body: { error: { message: `Incorrect API key provided: ${key}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    const err = await openai.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).not.toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err!.status).toBe(502);
    expect(JSON.stringify(err!.error)).not.toContain(key);
    expect(err!.message).toMatch(/channel credentials \(HTTP 401\)/);
    const id = err!.headers?.get('x-relayq-task-id');
    const task = await s.call('GET', `/v1/tasks/${id}`);
    expect(JSON.stringify(task.body)).not.toContain(key);
    expect(task.body.error).toMatchObject({ code: 'upstream_credentials_refused' });
  });

  it('relays an upstream refusal of the request itself with any key in it masked', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: 'bad value; your key sk-live-0123456789abcdef was logged', type: 'invalid_request_error', param: 'temperature', code: null } } });
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] } });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).not.toContain('sk-live-0123456789abcdef');
    expect(r.body.error).toMatchObject({ param: 'temperature', message: 'bad value; your key sk-[redacted] was logged' });
  });

  it('keeps the key out of Anthropic answers too', async () => {
    s.sim.faults.add({ route: 'anthropic', kind: 'status', status: 401, times: 1, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key sk-ant-api03-SECRETSECRET' } } });
    const client = new Anthropic({ baseURL: s.api.url, apiKey: KEYS.acme, maxRetries: 0 });
    const err = await client.messages.create({ model: 'sim-claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e: unknown) => e as InstanceType<typeof Anthropic.APIError>,
    );
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).not.toBeInstanceOf(Anthropic.AuthenticationError);
    expect(err!.status).toBe(502);
    expect(JSON.stringify(err!.error)).not.toContain('SECRETSECRET');
  });
});
