import { createHash } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newTaskId } from '../../shared/ids.js';
import { jobKinds } from '../../shared/jobs/registry.js';
import { createQueues } from '../../shared/queues.js';
import { newTask } from '../../shared/tasks/new.js';
import type { OpenAiTask } from '../../shared/families/openai/task.js';
import { createTaskStore } from '../../shared/tasks/store.js';
import type { SimForm, SimFormPart } from '../../sim/openai.js';
import { KEYS, PNG, startStack, waitFor, type Stack } from '../support/stack.js';


/**
 * What real OpenAI clients send, through the official SDK where one is involved: multipart bodies
 * reach the upstream exactly as sent, and values relayq does not interpret (new sizes, voices,
 * formats) are forwarded instead of refused.
 */
describe('OpenAI inputs from real clients', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack();
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  const pngBytes = Buffer.from(PNG.split(',')[1]!, 'base64');
  const png = (name: string) => toFile(pngBytes, name, { type: 'image/png' });
  const lastForm = (path: string) => s.sim.requests.filter((r) => r.method === 'POST' && r.path === path).at(-1)?.body as SimForm;
  const lastJson = (path: string) => s.sim.requests.filter((r) => r.method === 'POST' && r.path === path).at(-1)?.body;
  const shape = (parts: SimFormPart[]) => parts.map((p) => [p.name, p.filename, p.contentType]);

  it('SDK images.edit with an array of images reaches the upstream as three image[] parts, in order', async () => {
    const r = await client.images.edit({ image: [await png('a.png'), await png('b.png'), await png('c.png')], prompt: 'add hats', model: 'gpt-image-1' });
    expect(r.data?.[0]?.revised_prompt).toBe('add hats (edited a.png, 70 bytes; b.png, 70 bytes; c.png, 70 bytes)');
    const seen = lastForm('/v1/images/edits');
    expect(shape(seen.parts.filter((p) => p.filename !== null))).toEqual([
      ['image[]', 'a.png', 'image/png'],
      ['image[]', 'b.png', 'image/png'],
      ['image[]', 'c.png', 'image/png'],
    ]);
  });

  it('takes the 16 reference images gpt-image-1 accepts in one edit', async () => {
    const images = await Promise.all(Array.from({ length: 16 }, (_, i) => png(`ref${i}.png`)));
    await client.images.edit({ image: images, prompt: 'a collage', model: 'gpt-image-1' });
    const names = lastForm('/v1/images/edits').parts.filter((p) => p.name === 'image[]').map((p) => p.filename);
    expect(names).toEqual(Array.from({ length: 16 }, (_, i) => `ref${i}.png`));
  });

  it('forwards a multipart body byte for byte: repeated image parts, field order, its boundary', async () => {
    const form = new FormData();
    form.append('prompt', 'two cats');
    form.append('image', new Blob([pngBytes], { type: 'image/png' }), 'one.png');
    form.append('n', '2');
    form.append('image', new Blob([Buffer.concat([pngBytes, Buffer.from('x')])], { type: 'image/png' }), 'two.png');
    form.append('model', 'gpt-image-1');
    // A browser-style boundary with capitals, which a re-encoding or a lower-casing would lose.
    const encoded = new Response(form);
    const undiciType = encoded.headers.get('content-type')!;
    const oldBoundary = undiciType.split('boundary=')[1]!;
    const boundary = '----WebKitFormBoundaryAbCdEf0123456789';
    const body = Buffer.from(Buffer.from(await encoded.arrayBuffer()).toString('latin1').replaceAll(oldBoundary, boundary), 'latin1');
    const contentType = `multipart/form-data; boundary=${boundary}`;
    const res = await fetch(`${s.api.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': contentType }, body });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as any).data[0].revised_prompt).toBe('two cats (edited one.png, 70 bytes; two.png, 71 bytes)');
    const seen = lastForm('/v1/images/edits');
    expect(seen.contentType).toBe(contentType);
    expect(seen.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(seen.parts.map((p) => p.name)).toEqual(['prompt', 'image', 'n', 'image', 'model']);
  });

  it('keeps a file part content type with its parameters (audio/webm;codecs=opus)', async () => {
    const file = await toFile(Buffer.from('webm opus bytes'), 'voice.webm', { type: 'audio/webm;codecs=opus' });
    const t = await client.audio.transcriptions.create({ model: 'whisper-1', file, language: 'en' });
    expect(t.text).toBe('transcribed voice.webm (15 bytes) in en');
    const filePart = lastForm('/v1/audio/transcriptions').parts.find((p) => p.name === 'file')!;
    expect(filePart.contentType).toBe('audio/webm;codecs=opus');
  });

  it('forwards response_format=diarized_json and the newer transcription fields the SDK sends', async () => {
    const file = await toFile(Buffer.from('RIFF....WAVEfmt meeting'), 'meeting.wav', { type: 'audio/wav' });
    const t = await client.audio.transcriptions.create({
      model: 'gpt-4o-transcribe-diarize',
      file,
      response_format: 'diarized_json',
      chunking_strategy: { type: 'server_vad', threshold: 0.4 },
      include: ['logprobs'],
      timestamp_granularities: ['word', 'segment'],
      known_speaker_names: ['agent', 'customer'],
      temperature: 0,
    });
    expect(t).toMatchObject({ text: 'transcribed meeting.wav (23 bytes)' });
    const fields = lastForm('/v1/audio/transcriptions').parts.filter((p) => p.filename === null).map((p) => [p.name, p.value]);
    expect(fields).toEqual(
      expect.arrayContaining([
        ['response_format', 'diarized_json'],
        ['chunking_strategy[type]', 'server_vad'],
        ['chunking_strategy[threshold]', '0.4'],
        ['include[]', 'logprobs'],
        ['timestamp_granularities[]', 'word'],
        ['timestamp_granularities[]', 'segment'],
        ['known_speaker_names[]', 'agent'],
        ['known_speaker_names[]', 'customer'],
      ]),
    );
  });

  it('accepts a custom voice object on speech', async () => {
    const res = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: { id: 'voice_1234' }, input: 'hello', stream_format: 'audio', response_format: 'wav' });
    expect(Buffer.from(await res.arrayBuffer()).toString('latin1').startsWith('SIMAUDIO:wav:voice_1234:')).toBe(true);
    expect(lastJson('/v1/audio/speech')).toMatchObject({ voice: { id: 'voice_1234' }, stream_format: 'audio' });
  });

  it('forwards the image values of newer models and other providers unchanged (sizes, quality, background, moderation, output format)', async () => {
    const params = { model: 'gpt-image-1', prompt: 'a red fox', size: '1536x1024', quality: 'high', background: 'transparent', moderation: 'low', output_format: 'webp', output_compression: 80, n: 1 } as const;
    const r = await client.images.generate(params);
    expect(r.data).toHaveLength(1);
    expect(lastJson('/v1/images/generations')).toEqual(params);
    await client.images.generate({ model: 'dall-e-3', prompt: 'a blue fox', size: 'auto', quality: 'hd', style: 'vivid' });
    const edit = await client.images.edit({ image: await png('fox.png'), prompt: 'in the snow', input_fidelity: 'high', quality: 'medium', size: '1024x1536', background: 'opaque', output_format: 'jpeg' });
    expect(edit.data?.[0]?.revised_prompt).toBe('in the snow (edited fox.png, 70 bytes)');
    const fields = Object.fromEntries(lastForm('/v1/images/edits').parts.filter((p) => p.filename === null).map((p) => [p.name, p.value]));
    expect(fields).toMatchObject({ input_fidelity: 'high', quality: 'medium', size: '1024x1536', background: 'opaque', output_format: 'jpeg' });
    // Other providers behind the same API take other sizes (Seedream: "2K").
    const res = await fetch(`${s.api.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'doubao-seedream-4-0', prompt: 'a lantern', size: '2K', response_format: 'url', watermark: false }),
    });
    expect(res.status).toBe(200);
    expect(lastJson('/v1/images/generations')).toEqual({ model: 'doubao-seedream-4-0', prompt: 'a lantern', size: '2K', response_format: 'url', watermark: false });
  });

  it('forwards chat fields and values it does not interpret, byte for byte', async () => {
    const raw = '{"model":"o4-mini","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":"hi"}],"reasoning_effort":"minimal","verbosity":"low","max_completion_tokens":64,"stop":["a","b","c","d","e"],"temperature":2.5}';
    const res = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: raw });
    expect(res.status).toBe(200);
    expect(JSON.stringify(lastJson('/v1/chat/completions'))).toBe(raw);
  });

  it('forwards multimodal embedding inputs and encoding formats of other providers', async () => {
    const body = { model: 'doubao-embedding-vision', input: [{ type: 'text', text: 'a cat' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }], encoding_format: 'float' };
    const res = await fetch(`${s.api.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(lastJson('/v1/embeddings')).toEqual(body);
    const int8 = await fetch(`${s.api.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'embed-v4', input: 'x', encoding_format: 'int8' }) });
    expect(int8.status).toBe(200);
  });

  it('still forwards a multipart task stored by an earlier version (fields as JSON, files as blobs)', async () => {
    const queues = createQueues({ redis: s.redis, prefix: s.config.QUEUE_PREFIX, shards: s.config.QUEUE_SHARDS });
    try {
      const store = createTaskStore({ redis: s.redis, queues, config: s.config });
      const id = newTaskId({ queue: 'audio', shard: 0 });
      const task = newTask<OpenAiTask>({ id, kind: 'audio.transcription', family: 'openai', tenant: 'acme', openai: { endpoint: 'audio/transcriptions', model: 'whisper-1', stream: false, multipart: true } });
      const blobs = {
        request: { type: 'application/json', data: Buffer.from(JSON.stringify([['model', 'whisper-1'], ['language', 'de']])) },
        'file.file': { type: 'audio/wav', data: Buffer.from('old wav bytes'), filename: 'old.wav' },
      };
      await store.create(task, { blobs, job: { name: 'audio.request', data: { taskId: id }, options: jobKinds['audio.request'].options(s.config) } });
      const done = await waitFor(async () => {
        const t = (await s.call('GET', `/v1/tasks/${id}`)).body;
        return t.status === 'succeeded' || t.status === 'failed' ? t : null;
      });
      expect(done).toMatchObject({ status: 'succeeded', output: { text: 'transcribed old.wav (13 bytes) in de' } });
    } finally {
      await queues.close();
    }
  });

  it('refuses a multipart body that is not well-formed, naming the body', async () => {
    const res = await fetch(`${s.api.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\ncut off',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toMatchObject({ param: 'body', message: expect.stringMatching(/^body: is not valid multipart\/form-data: /) });
  });
});
