import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

const msgs = [{ role: 'user', content: 'hi' }];

const json: [string, string, unknown, string][] = [
  ['chat/completions', 'no model', { messages: msgs }, 'model'],
  ['chat/completions', 'no messages', { model: 'm' }, 'messages'],
  ['chat/completions', 'empty messages', { model: 'm', messages: [] }, 'messages'],
  ['chat/completions', 'an unknown role', { model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
  ['chat/completions', 'numeric content', { model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
  ['chat/completions', 'temperature 3', { model: 'm', messages: msgs, temperature: 3 }, 'temperature'],
  ['chat/completions', 'n 0', { model: 'm', messages: msgs, n: 0 }, 'n'],
  ['chat/completions', 'a string stream', { model: 'm', messages: msgs, stream: 'yes' }, 'stream'],
  ['chat/completions', 'five stop sequences', { model: 'm', messages: msgs, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
  ['chat/completions', 'an unknown response_format', { model: 'm', messages: msgs, response_format: { type: 'xml' } }, 'response_format.type'],
  ['completions', 'no prompt', { model: 'm' }, 'prompt'],
  ['completions', 'a fractional max_tokens', { model: 'm', prompt: 'p', max_tokens: 1.5 }, 'max_tokens'],
  ['embeddings', 'no input', { model: 'm' }, 'input'],
  ['embeddings', 'an empty input', { model: 'm', input: '' }, 'input'],
  ['embeddings', 'an unknown encoding_format', { model: 'm', input: 'x', encoding_format: 'int8' }, 'encoding_format'],
  ['embeddings', 'dimensions 0', { model: 'm', input: 'x', dimensions: 0 }, 'dimensions'],
  ['images/generations', 'no prompt', {}, 'prompt'],
  ['images/generations', 'n 11', { prompt: 'p', n: 11 }, 'n'],
  ['images/generations', 'a size that is not WxH', { prompt: 'p', size: 'big' }, 'size'],
  ['images/generations', 'an unknown response_format', { prompt: 'p', response_format: 'png' }, 'response_format'],
  ['images/generations', 'an unknown style', { prompt: 'p', style: 'baroque' }, 'style'],
  ['audio/speech', 'no voice', { model: 'm', input: 'x' }, 'voice'],
  ['audio/speech', 'too long an input', { model: 'm', voice: 'v', input: 'x'.repeat(4097) }, 'input'],
  ['audio/speech', 'an unknown response_format', { model: 'm', voice: 'v', input: 'x', response_format: 'ogg' }, 'response_format'],
  ['audio/speech', 'speed 5', { model: 'm', voice: 'v', input: 'x', speed: 5 }, 'speed'],
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
  ['audio/transcriptions', 'an unknown response_format', { model: 'm', response_format: 'mp3' }, { file: bytes }, 'response_format'],
  ['audio/transcriptions', 'a language that is not a code', { model: 'm', language: 'English' }, { file: bytes }, 'language'],
  ['audio/transcriptions', 'temperature 2', { model: 'm', temperature: '2' }, { file: bytes }, 'temperature'],
  ['audio/transcriptions', 'an unknown file field', { model: 'm' }, { file: bytes, other: bytes }, 'other'],
  ['audio/translations', 'no model', {}, { file: bytes }, 'model'],
  ['images/edits', 'no image', { prompt: 'p' }, {}, 'image'],
  ['images/edits', 'no prompt', {}, { image: bytes }, 'prompt'],
  ['images/edits', 'n 20', { prompt: 'p', n: '20' }, { image: bytes }, 'n'],
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
