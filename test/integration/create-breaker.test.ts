import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/** Task creation in one script (create.lua): bodies near MAX_BODY_BYTES go through its arguments. */
describe('task creation in one script with large bodies (breaker)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false });
  });
  afterAll(() => s?.close());

  it('accepts a JSON body just under MAX_BODY_BYTES and keeps its bytes exactly; one over is 413 and writes nothing', async () => {
    const max = s.config.MAX_BODY_BYTES;
    const shell = JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: '' }] });
    const content = 'é'.repeat(Math.floor((max - shell.length - 64) / 2));
    const body = JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content }] });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(max);
    const started = Date.now();
    const res = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', prefer: 'respond-async', 'idempotency-key': 'big-1' }, body });
    expect(res.status).toBe(202);
    const task = (await res.json()) as { id: string };
    expect(Date.now() - started).toBeLessThan(10_000);
    const again = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', prefer: 'respond-async', 'idempotency-key': 'big-1' }, body });
    expect(((await again.json()) as { id: string }).id).toBe(task.id);
    const blobKeys = (await s.keys()).filter((k) => k.includes(`:blobs:${task.id}`));
    expect(blobKeys).toHaveLength(1);
    const fields = await s.redis.hgetallBuffer(blobKeys[0]!);
    const stored = Object.entries(fields).find(([f]) => !f.includes(':'));
    expect(stored).toBeDefined();
    expect(stored![1].includes(Buffer.from(content.slice(0, 1000)))).toBe(true);
    expect(stored![1].length).toBeGreaterThanOrEqual(Buffer.byteLength(body) - 1000);

    const before = (await s.keys()).length;
    const over = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'x'.repeat(max) }] }) });
    expect(over.status).toBe(413);
    expect((await s.keys()).length).toBe(before);
  }, 60_000);
});
