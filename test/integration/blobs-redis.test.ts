import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/** The default blob store (Redis), through the routes that now stream blobs. */
describe('Redis blob store, answers streamed from it', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s.close());

  it('answers a speech call and its task content with the same bytes and their length', async () => {
    const res = await fetch(`${s.api.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'nova', input: 'hello from redis' }),
    });
    expect(res.status).toBe(200);
    const audio = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get('content-length')).toBe(String(audio.length));
    expect(audio.subarray(0, 18).toString()).toBe('SIMAUDIO:mp3:nova:');
    const id = res.headers.get('x-relayq-task-id')!;
    // Kept inline in the task's blob hash, as before.
    expect((await s.redis.hgetBuffer(`${s.config.QUEUE_PREFIX}:{audio}:blobs:${id}`, 'response'))?.equals(audio)).toBe(true);
    const content = await fetch(`${s.api.url}/v1/tasks/${id}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(content.headers.get('content-type')).toBe('audio/mpeg');
    expect(Buffer.from(await content.arrayBuffer()).equals(audio)).toBe(true);
  });

  it('answers 404 for a file URL that names nothing, with or without a key', async () => {
    const r = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a cat' } });
    const path = `/v1/files/${r.body.result}/AAAAAAAAAAAAAAAAAAAAAAAA.png`;
    expect((await s.call('GET', path, { key: null })).status).toBe(404);
    expect((await s.call('GET', path)).status).toBe(404);
    expect((await s.call('GET', `/v1/files/${r.body.result}/..%2Fresponse`, { key: null })).status).toBe(404);
    // Other routes still want a key.
    expect((await s.call('GET', `/v1/tasks/${r.body.result}`, { key: null })).status).toBe(401);
  });
});
