import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

const msgs = [{ role: 'user', content: 'hi' }];

const json: [string, string, unknown, string][] = [
  ['chat/completions', 'no model', { messages: msgs }, 'model'],
  ['chat/completions', 'no messages', { model: 'm' }, 'messages'],
  ['chat/completions', 'empty messages', { model: 'm', messages: [] }, 'messages'],
  ['chat/completions', 'messages that are not an array', { model: 'm', messages: 'hi' }, 'messages'],
  ['chat/completions', 'a message that is not an object', { model: 'm', messages: ['hi'] }, 'messages[0]'],
  ['chat/completions', 'a numeric role', { model: 'm', messages: [{ role: 5, content: 'x' }] }, 'messages[0].role'],
  ['chat/completions', 'numeric content', { model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
  ['chat/completions', 'a string temperature', { model: 'm', messages: msgs, temperature: 'hot' }, 'temperature'],
  ['chat/completions', 'a fractional n', { model: 'm', messages: msgs, n: 1.5 }, 'n'],
  ['chat/completions', 'a string stream', { model: 'm', messages: msgs, stream: 'yes' }, 'stream'],
  ['chat/completions', 'numeric stop sequences', { model: 'm', messages: msgs, stop: [1, 2] }, 'stop'],
  ['chat/completions', 'a response_format without a type', { model: 'm', messages: msgs, response_format: { schema: {} } }, 'response_format.type'],
  ['completions', 'no prompt', { model: 'm' }, 'prompt'],
  ['completions', 'a fractional max_tokens', { model: 'm', prompt: 'p', max_tokens: 1.5 }, 'max_tokens'],
  ['embeddings', 'no input', { model: 'm' }, 'input'],
  ['embeddings', 'an empty input', { model: 'm', input: '' }, 'input'],
  ['embeddings', 'a numeric encoding_format', { model: 'm', input: 'x', encoding_format: 8 }, 'encoding_format'],
  ['embeddings', 'fractional dimensions', { model: 'm', input: 'x', dimensions: 1.5 }, 'dimensions'],
  ['images/generations', 'no prompt', {}, 'prompt'],
  ['images/generations', 'a string n', { prompt: 'p', n: 'two' }, 'n'],
  ['images/generations', 'a numeric size', { prompt: 'p', size: 1024 }, 'size'],
  ['images/generations', 'a boolean response_format', { prompt: 'p', response_format: true }, 'response_format'],
  ['images/generations', 'a string stream', { prompt: 'p', stream: 'yes' }, 'stream'],
  ['audio/speech', 'no voice', { model: 'm', input: 'x' }, 'voice'],
  ['audio/speech', 'a numeric input', { model: 'm', voice: 'v', input: 42 }, 'input'],
  ['audio/speech', 'a voice object without an id', { model: 'm', voice: { name: 'v' }, input: 'x' }, 'voice'],
  ['audio/speech', 'a numeric response_format', { model: 'm', voice: 'v', input: 'x', response_format: 3 }, 'response_format'],
  ['audio/speech', 'a string speed', { model: 'm', voice: 'v', input: 'x', speed: 'fast' }, 'speed'],
];

function form(fields: Record<string, string>, files: Record<string, Buffer>) {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const [k, v] of Object.entries(files)) f.append(k, new Blob([v], { type: 'application/octet-stream' }), `${k}.bin`);
  return f;
}
const bytes = Buffer.from('some bytes');

const multipart: [string, string, Record<string, string>, Record<string, Buffer>, string][] = [
  ['audio/transcriptions', 'no file', { model: 'm' }, {}, 'file'],
  ['audio/transcriptions', 'an empty file', { model: 'm' }, { file: Buffer.alloc(0) }, 'file'],
  ['audio/transcriptions', 'no model', {}, { file: bytes }, 'model'],
  ['audio/transcriptions', 'a temperature that is not a number', { model: 'm', temperature: 'warm' }, { file: bytes }, 'temperature'],
  ['audio/transcriptions', 'an empty extra file', { model: 'm' }, { file: bytes, other: Buffer.alloc(0) }, 'other'],
  ['audio/translations', 'no model', {}, { file: bytes }, 'model'],
  ['images/edits', 'no image', { prompt: 'p' }, {}, 'image'],
  ['images/edits', 'no prompt', {}, { image: bytes }, 'prompt'],
  ['images/edits', 'an n that is not an integer', { prompt: 'p', n: '2.5' }, { image: bytes }, 'n'],
  ['images/edits', 'an empty image[]', { prompt: 'p' }, { 'image[]': Buffer.alloc(0) }, 'image[]'],
];

describe('OpenAI bad input', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ worker: false, env: { BLOB_MAX_BYTES: '4096' } });
  });
  afterAll(() => s.close());

  const expectRefused = async (res: Response, param: string, before: string[]) => {
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(body.error.param).toBe(param);
    expect(body.error.message.startsWith(`${param}: `)).toBe(true);
    expect((await s.keys()).sort()).toEqual(before.sort());
  };

  it.each(json)('/v1/%s refuses %s, naming %s', async (endpoint, _what, body, param) => {
    const before = await s.keys();
    const res = await fetch(`${s.api.url}/v1/${endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await expectRefused(res, param, before);
  });

  it.each(multipart)('/v1/%s refuses %s, naming %s', async (endpoint, _what, fields, files, param) => {
    const before = await s.keys();
    const res = await fetch(`${s.api.url}/v1/${endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}` }, body: form(fields, files) });
    await expectRefused(res, param, before);
  });

  it('refuses a file over BLOB_MAX_BYTES with 413 naming it', async () => {
    const before = await s.keys();
    const res = await fetch(`${s.api.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}` }, body: form({ model: 'm' }, { file: Buffer.alloc(8192, 1) }) });
    expect(res.status).toBe(413);
    await expectRefused(res, 'file', before);
  });

  it('refuses JSON on a multipart route and broken JSON on a JSON route', async () => {
    const before = await s.keys();
    const a = await fetch(`${s.api.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: '{"model":"m"}' });
    await expectRefused(a, 'body', before);
    const b = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: '{"model":' });
    await expectRefused(b, 'body', before);
  });

  it('answers 401 in the OpenAI envelope without a key', async () => {
    const res = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: msgs }) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.type).toBe('authentication_error');
  });
});
