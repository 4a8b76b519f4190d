import OpenAI, { toFile } from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimForm } from '../../sim/openai.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { readSse } from '../support/sse.js';
import { KEYS, PNG, startStack, waitFor, type Stack } from '../support/stack.js';

/** `POST /v1/images/variations` (multipart), with the official SDK's `images.createVariation`. */
describe('image variations through relayq', () => {
  let s: Stack;
  let client: OpenAI;
  let rx: Receiver;
  beforeAll(async () => {
    s = await startStack({ env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' } });
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    rx = await startReceiver();
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(async () => {
    await rx.close();
    await s.close();
  });

  const png = () => toFile(Buffer.from(PNG.split(',')[1]!, 'base64'), 'cat.png', { type: 'image/png' });
  const variationCalls = () => s.sim.requests.filter((r) => r.path === '/v1/images/variations');

  it('answers the upstream variations as they came, from the multipart body the SDK sent', async () => {
    const { data, response } = await client.images.createVariation({ image: await png(), n: 2, size: '256x256', model: 'dall-e-2', user: 'u-1' }).withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data?.[0]?.url).toMatch(/\/sim\/image\/variation-[0-9a-f]{12}\.png$/);
    const seen = variationCalls().at(-1)!.body as SimForm;
    expect(seen.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen.files.image).toEqual({ filename: 'cat.png', bytes: 70, type: 'image/png' });
    expect(seen.fields).toEqual({ n: '2', size: '256x256', model: 'dall-e-2', user: 'u-1' });
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body;
    expect(task).toMatchObject({ kind: 'image.variation', status: 'succeeded', output: { data: [{ url: data.data![0]!.url }, { url: data.data![1]!.url }] } });
  });

  it('answers b64_json images', async () => {
    const r = await client.images.createVariation({ image: await png(), response_format: 'b64_json' });
    expect(Buffer.from(r.data![0]!.b64_json!, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });

  it('relays an upstream refusal as the upstream gave it', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: 'Uploaded image must be a PNG and less than 4 MB.', type: 'invalid_request_error', param: 'image', code: null } } });
    const err = await client.images.createVariation({ image: await png() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('Uploaded image must be a PNG');
  });

  it('runs as a task: async with a signed webhook and SSE, cancel, idempotency, other tenants kept out', async () => {
    const form = async () => {
      const f = new FormData();
      f.append('image', new Blob([Buffer.from(PNG.split(',')[1]!, 'base64')], { type: 'image/png' }), 'cat.png');
      f.append('n', '1');
      return f;
    };
    const post = async (headers: Record<string, string>) => {
      const res = await fetch(`${s.api.url}/v1/images/variations`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, ...headers }, body: await form() });
      return { status: res.status, body: (await res.json()) as any };
    };
    const accepted = await post({ prefer: 'respond-async', 'x-webhook-url': rx.url, 'idempotency-key': 'variation-1' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ object: 'task', kind: 'image.variation' });
    const id = accepted.body.id as string;
    const events = await readSse(`${s.api.url}/v1/tasks/${id}/events`, { authorization: `Bearer ${KEYS.acme}` }, (e) => e.event === 'done');
    expect(events.find((e) => e.event === 'output')?.data.output.data).toHaveLength(1);
    await waitFor(async () => rx.received.some((r) => r.body?.type === 'task.succeeded' && r.body.data.id === id), { what: 'task.succeeded webhook' });
    const secret = (await s.call('GET', '/v1/webhooks/secret')).body.key;
    for (const r of rx.received.filter((x) => x.body?.data?.id === id)) {
      new Webhook(secret).verify(r.raw, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
      expect(r.body.data.kind).toBe('image.variation');
    }
    const again = await post({ prefer: 'respond-async', 'idempotency-key': 'variation-1' });
    expect(again).toMatchObject({ status: 200, body: { id } });
    expect((await s.call('GET', `/v1/tasks/${id}`, { key: KEYS.beta })).status).toBe(404);

    s.sim.faults.add({ route: 'openai', kind: 'latency', ms: 3000, times: 1 });
    const slow = await post({ prefer: 'respond-async' });
    await waitFor(async () => (await s.call('GET', `/v1/tasks/${slow.body.id}`)).body.status === 'running');
    expect((await s.call('POST', `/v1/tasks/${slow.body.id}/cancel`)).body).toMatchObject({ status: 'canceled' });
  });

  it('refuses a call without an image, or with bad fields, naming the field, before any upstream call', async () => {
    const before = variationCalls().length;
    const send = async (build: (f: FormData) => void, headers: Record<string, string> = {}) => {
      const f = new FormData();
      build(f);
      const res = await fetch(`${s.api.url}/v1/images/variations`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, ...headers }, body: f });
      return { status: res.status, body: (await res.json()) as any };
    };
    const image = (f: FormData) => f.append('image', new Blob([Buffer.from('png')], { type: 'image/png' }), 'a.png');
    const cases: [string, { status: number; body: any }][] = [
      ['image', await send((f) => f.append('n', '1'))],
      ['image', await send((f) => f.append('image', new Blob([]), 'empty.png'))],
      ['n', await send((f) => (image(f), f.append('n', 'two')))],
      ['n', await send((f) => (image(f), f.append('n', '1.5')))],
      ['model', await send((f) => (image(f), f.append('model', '')))],
    ];
    const json = await s.call('POST', '/v1/images/variations', { body: { image: 'x' } });
    cases.push(['body', json]);
    for (const [field, r] of cases) {
      expect({ field, status: r.status }).toEqual({ field, status: 400 });
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: field });
    }
    expect(variationCalls()).toHaveLength(before);
  });
});
