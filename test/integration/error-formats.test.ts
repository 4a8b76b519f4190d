import net from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchRedisServer, type LaunchedRedis } from '../support/redis.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

/**
 * Writes a whole request on a raw socket in one go (no `Expect: 100-continue`), then reads the
 * answer: what a client that does not look at the answer before it finished uploading sees.
 */
function rawRequest(port: number, head: string, body: Buffer): Promise<{ answer: string; error: string | null }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let error: string | null = null;
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ answer, error }));
    socket.write(head);
    socket.write(body, () => socket.end());
  });
}
const jsonOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

describe('errors reach the client in the family format', () => {
  let s: Stack;
  let port: number;
  beforeAll(async () => {
    s = await startStack();
    port = Number(new URL(s.api.url).port);
  });
  afterAll(() => s.close());

  it('answers a 30 MB JSON body written in one go with a 413 the client sees, every time', async () => {
    const body = Buffer.alloc(30 * 1024 * 1024, 'a');
    for (const [path, check] of [
      ['/v1/chat/completions', (j: any) => expect(j.error).toMatchObject({ param: 'body', message: expect.stringMatching(/MAX_BODY_BYTES/) })],
      ['/mj/submit/imagine', (j: any) => expect(j).toMatchObject({ code: 4, description: expect.stringMatching(/^body: .*MAX_BODY_BYTES/) })],
      ['/v1/chat/completions', (j: any) => expect(j.error.param).toBe('body')],
      ['/mj-fast/mj/submit/imagine', (j: any) => expect(j.code).toBe(4)],
    ] as const) {
      const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.acme}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
      const { answer, error } = await rawRequest(port, head, body);
      expect(error).toBeNull();
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      check(jsonOf(answer));
    }
  });

  it('lets a client that asked to close the connection see the 413 too', async () => {
    const body = Buffer.alloc(30 * 1024 * 1024, 'a');
    for (let i = 0; i < 3; i++) {
      const head = `POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${KEYS.acme}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
      const { answer, error } = await rawRequest(port, head, body);
      expect(error).toBeNull();
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    }
  });

  it('answers a chunked body that grows past MAX_BODY_BYTES with a 413 the client sees', async () => {
    const piece = Buffer.alloc(1024 * 1024, 'a');
    const chunks = Buffer.concat(Array.from({ length: 30 }, () => Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])));
    const head = `POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.acme}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const { answer, error } = await rawRequest(port, head, Buffer.concat([chunks, Buffer.from('0\r\n\r\n')]));
    expect(error).toBeNull();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(jsonOf(answer).error.param).toBe('body');
  });

  it('answers ids of any length in the family format', async () => {
    const long = 'x'.repeat(150);
    for (const path of [`/v1/tasks/${long}`, `/v1/tasks/${long}/events`, `/v1/tasks/${'y'.repeat(5000)}`, `/v1/tasks/${long}/cancel`]) {
      const r = await s.call(path.endsWith('/cancel') ? 'POST' : 'GET', path);
      expect(r.status).toBe(404);
      expect(r.body.error).toMatchObject({ type: 'not_found_error', message: expect.stringMatching(/^task not found/) });
    }
    for (const [method, path] of [['GET', `/mj/task/${long}/fetch`], ['POST', `/mj/task/${long}/cancel`], ['GET', `/mj/task/${'y'.repeat(5000)}/image-seed`]] as const) {
      const mj = await s.call(method, path);
      expect(mj.status).toBe(404);
      expect(mj.body).toMatchObject({ code: 3, result: null, description: expect.stringMatching(/^task not found/) });
    }
    // Past Node's 16 KB header limit, Node's parser refuses it, still in the family format.
    const huge = await s.call('GET', `/v1/tasks/${'z'.repeat(20_000)}`);
    expect(huge.status).toBe(431);
    expect(huge.body.error.param).toBe('request');
    const hugeMj = await s.call('GET', `/mj/task/${'z'.repeat(20_000)}/fetch`);
    expect(hugeMj.status).toBe(431);
    expect(hugeMj.body).toMatchObject({ code: 4, result: null });
  });

  it('marks a missing key and an unknown route as final (x-should-retry: false), in the family format', async () => {
    for (const path of ['/v1/chat/completions', '/v1/messages', '/suno/submit/music', '/luma/generations', '/mj/submit/imagine']) {
      const r = await s.call('POST', path, { key: null, body: {} });
      expect(r.status, path).toBe(401);
      expect(r.headers.get('x-should-retry'), path).toBe('false');
    }
    const unknown = await s.call('GET', '/v1/no-such-route');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-should-retry')).toBe('false');
  });

  it('answers a malformed percent-encoding in the path with a 400 naming url, in the family format', async () => {
    for (const [method, path] of [['GET', '/mj/task/%E0%A4%A/fetch'], ['POST', '/mj-fast/mj/task/%E0/cancel'], ['GET', '/mj/task/a%2/image-seed']] as const) {
      const r = await s.call(method, path);
      expect(r.status, path).toBe(400);
      expect(r.body, path).toEqual({ code: 4, description: expect.stringMatching(/^url: .*percent-encoding/), result: null, properties: {} });
      expect(r.headers.get('x-should-retry'), path).toBe('false');
    }
    for (const path of ['/v1/tasks/%E0%A4%A', '/v1/tasks/%E0%A4%A/events', '/v1/models/a%2', '/v1/no-such-route/%ZZ']) {
      const r = await s.call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toMatchObject({ type: 'invalid_request_error', param: 'url', message: expect.stringMatching(/^url: .*percent-encoding/) });
    }
  });

  it('reads a model id in the path once: an encoded % or / is part of the id', async () => {
    const pct = await s.call('GET', '/v1/models/a%25E0');
    expect(pct.status).toBe(404);
    expect(pct.body.error).toMatchObject({ code: 'model_not_found', message: "The model 'a%E0' does not exist" });
    const slash = await s.call('GET', '/v1/models/relayq-sim%2Fchat-mini');
    expect(slash).toMatchObject({ status: 200, body: { id: 'relayq-sim/chat-mini' } });
  });

  it('answers malformed JSON and unknown content types in the family format', async () => {
    const bad = await s.call('POST', '/mj/submit/imagine', { body: '{"prompt": ', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 4, result: null });
    const badOpenAi = await s.call('POST', '/v1/chat/completions', { body: '{"model": ', headers: { 'content-type': 'application/json' } });
    expect(badOpenAi.status).toBe(400);
    expect(badOpenAi.body.error.param).toBe('body');
    const xml = await s.call('POST', '/mj/submit/imagine', { body: '<prompt/>', headers: { 'content-type': 'application/xml' } });
    expect(xml.status).toBe(415);
    expect(xml.body).toMatchObject({ code: 4, result: null });
  });

  it('serves GET /v1/models/{id} from the upstream list, 404 for an unknown model', async () => {
    const sdk = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
    expect(await sdk.models.retrieve('sim-chat')).toMatchObject({ id: 'sim-chat', object: 'model' });
    expect(await sdk.models.retrieve('relayq-sim/chat-mini')).toMatchObject({ id: 'relayq-sim/chat-mini' });
    const err = await sdk.models.retrieve('no-such-model').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });
});

describe('a Redis failure during cancel', () => {
  let redis: LaunchedRedis;
  let s: Stack;
  beforeAll(async () => {
    redis = await launchRedisServer();
    s = await startStack({ redisUrl: redis.url, sim: { mjDurationMs: 60_000 } });
  });
  afterAll(async () => {
    await s.redis.call('ACL', 'SETUSER', 'default', '+@all').catch(() => undefined);
    await s.close();
    await redis.close();
  });

  it('answers 503 in the family format, never 500', async () => {
    const { body } = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'cancel me while redis refuses' } });
    await waitFor(async () => (await s.call('GET', `/mj/task/${body.result}/fetch`)).body.status === 'SUBMITTED', { what: 'the task upstream' });
    // Redis refuses one of the writes a cancel makes (as a failover or an ACL change would).
    await s.redis.call('ACL', 'SETUSER', 'default', '-rpush');
    const mj = await s.call('POST', `/mj/task/${body.result}/cancel`);
    expect(mj.status).toBe(503);
    expect(mj.body).toMatchObject({ code: 9, result: null });
    await s.redis.call('ACL', 'SETUSER', 'default', '+@all');
  });
});
