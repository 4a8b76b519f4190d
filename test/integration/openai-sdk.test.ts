import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, PNG, startStack, waitFor, type Stack } from '../support/stack.js';

/** The official `openai` SDK, pointed at relayq as its baseURL, on every route. */
describe('openai SDK against relayq', () => {
  let s: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    s = await startStack();
    // maxRetries 0: any retry seen here is relayq's own.
    client = new OpenAI({ baseURL: `${s.api.url}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  });
  afterEach(() => s.sim.faults.clear());
  afterAll(() => s.close());

  const png = () => toFile(Buffer.from(PNG.split(',')[1]!, 'base64'), 'cat.png', { type: 'image/png' });
  const wav = () => toFile(Buffer.from('RIFF....WAVEfmt simulated audio'), 'hello.wav', { type: 'audio/wav' });

  it('chat completion, sync, with the upstream answer unchanged', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello there' }], n: 2 }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices.map((c) => c.message.content)).toEqual(['Echo: hello there', 'Echo: hello there']);
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    const taskId = response.headers.get('x-relayq-task-id')!;
    const task = (await s.call('GET', `/v1/tasks/${taskId}`)).body;
    expect(task).toMatchObject({ kind: 'chat.completion', status: 'succeeded', attempts: 1, output: { id: data.id } });
    // The upstream got our body byte for byte, with the upstream key, not the client's.
    const seen = s.sim.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    expect(seen.body).toEqual({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello there' }], n: 2 });
  });

  it('chat completion, streaming, with the whole result kept on the task', async () => {
    const { data: stream, response } = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'tell me a story' }], stream: true }).withResponse();
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('Echo: tell me a story');
    expect(finish).toBe('stop');
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body;
    expect(task.status).toBe('succeeded');
    expect(task.output).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'Echo: tell me a story' }, finish_reason: 'stop' }] });
    expect(task.output.usage.total_tokens).toBeGreaterThan(0);
  });

  it('text completion, sync and streaming', async () => {
    const r = await client.completions.create({ model: 'sim-chat', prompt: 'once upon' });
    expect(r.choices[0]!.text).toBe(' Echo: once upon');
    const stream = await client.completions.create({ model: 'sim-chat', prompt: 'a time', stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe('Echo: a time');
  });

  it('embeddings, float and base64', async () => {
    const floats = await client.embeddings.create({ model: 'sim-embed', input: ['a', 'b'], encoding_format: 'float', dimensions: 4 });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0]!.embedding).toHaveLength(4);
    const b64 = await client.embeddings.create({ model: 'sim-embed', input: 'a', dimensions: 4 });
    expect(b64.data[0]!.embedding).toHaveLength(4);
    expect(b64.data[0]!.embedding[0]).toBeCloseTo(floats.data[0]!.embedding[0]!, 5);
  });

  it('image generation, url and b64_json', async () => {
    const urls = await client.images.generate({ prompt: 'a red fox', n: 2 });
    expect(urls.data).toHaveLength(2);
    expect(urls.data?.[0]?.url).toMatch(/\/sim\/image\//);
    const b64 = await client.images.generate({ prompt: 'a red fox', response_format: 'b64_json' });
    expect(Buffer.from(b64.data![0]!.b64_json!, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });

  it('image edit with an uploaded image and mask', async () => {
    const r = await client.images.edit({ image: await png(), mask: await png(), prompt: 'add a hat', n: 1 });
    expect(r.data?.[0]?.revised_prompt).toBe('add a hat (edited cat.png, 70 bytes, masked)');
  });

  it('speech answers audio bytes with their content type', async () => {
    const res = await client.audio.speech.create({ model: 'sim-tts', voice: 'alloy', input: 'hello' });
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.toString('latin1').startsWith('SIMAUDIO:mp3:alloy:')).toBe(true);
    const wavRes = await client.audio.speech.create({ model: 'sim-tts', voice: 'nova', input: 'hello', response_format: 'wav' });
    expect(wavRes.headers.get('content-type')).toBe('audio/wav');
    const taskId = wavRes.headers.get('x-relayq-task-id')!;
    const content = await fetch(`${s.api.url}/v1/tasks/${taskId}/content`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(content.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await content.arrayBuffer()).toString('latin1').startsWith('SIMAUDIO:wav:nova:')).toBe(true);
  });

  it('transcription and translation of an upload', async () => {
    const t = await client.audio.transcriptions.create({ model: 'sim-whisper', file: await wav(), language: 'en' });
    expect(t.text).toBe('transcribed hello.wav (31 bytes) in en');
    const text = await client.audio.transcriptions.create({ model: 'sim-whisper', file: await wav(), response_format: 'text' });
    expect(String(text)).toBe('transcribed hello.wav (31 bytes)');
    const tr = await client.audio.translations.create({ model: 'sim-whisper', file: await wav() });
    expect(tr.text).toBe('translated hello.wav (31 bytes)');
  });

  it('lists the upstream models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('sim-chat');
  });

  it('surfaces an upstream 400 as BadRequestError with the upstream message, without retrying', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: "Invalid value for 'temperature': too hot", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } } });
    const before = s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;
    const err = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("Invalid value for 'temperature': too hot");
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('temperature');
    expect(s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length).toBe(before + 1);
  });

  it('retries an upstream 429 and answers the 200 that follows', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 429, retryAfter: 0, times: 1 });
    const { data, response } = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'busy?' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: busy?');
    const task = (await s.call('GET', `/v1/tasks/${response.headers.get('x-relayq-task-id')}`)).body;
    expect(task.attempts).toBe(2);
  });

  it('answers a stream request refused upstream with a normal HTTP error', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 404, times: 1, body: { error: { message: 'The model `nope` does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } });
    const err = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as Error).message).toContain('does not exist');
  });

  it('takes the async path from the SDK too: Prefer: respond-async gives the task to poll', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'sim-chat', messages: [{ role: 'user', content: 'async via sdk' }] }, { headers: { Prefer: 'respond-async' } })
      .withResponse();
    expect(response.status).toBe(202);
    const task = data as unknown as { id: string; object: string; status: string };
    expect(task.object).toBe('task');
    const done = await waitFor(async () => {
      const t = (await s.call('GET', `/v1/tasks/${task.id}`)).body;
      return t.status === 'succeeded' ? t : null;
    });
    expect(done.output.choices[0].message.content).toBe('Echo: async via sdk');
  });
});
