import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseMultipart } from '../shared/multipart.js';
import type { Faults } from './faults.js';

/**
 * An OpenAI-compatible upstream with deterministic answers: the same request always gets the
 * same answer. A message or prompt containing `--sim-slow` streams one token per 100 ms.
 */
export interface SimOpenAiOptions {
  key: string;
  faults: Faults;
  log: (entry: { method: string; path: string; body?: unknown }) => void;
}

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const hash = (s: string) => createHash('sha256').update(s).digest();
const words = (s: string) => s.split(/\s+/).filter(Boolean);

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: { text?: string }) => p?.text ?? '').join(' ');
  return '';
}

const AUDIO_TYPES: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };

export function createSimOpenAi(opts: SimOpenAiOptions) {
  const err = (reply: FastifyReply, status: number, message: string, param: string | null, code: string | null) =>
    reply.status(status).send({ error: { message, type: 'invalid_request_error', param, code } });

  async function guard(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    opts.log({ method: req.method, path: req.url, body: Buffer.isBuffer(req.body) ? undefined : req.body });
    if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`) {
      await err(reply, 401, 'Incorrect API key provided', null, 'invalid_api_key');
      return true;
    }
    return opts.faults.apply('openai', req, reply);
  }

  async function streamWords(reply: FastifyReply, text: string, slow: boolean, chunk: (piece: string, last: boolean) => unknown) {
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const pieces = words(text);
    for (let i = 0; i < pieces.length; i++) {
      if (slow) await new Promise((r) => setTimeout(r, 100));
      if (reply.raw.destroyed) return reply;
      reply.raw.write(`data: ${JSON.stringify(chunk(`${i ? ' ' : ''}${pieces[i]}`, false))}\n\n`);
    }
    reply.raw.write(`data: ${JSON.stringify(chunk('', true))}\n\n`);
    reply.raw.end('data: [DONE]\n\n');
    return reply;
  }

  /**
   * A multipart body as received: every part in order (repeated names, `name[]`, file names,
   * content types as sent), plus `fields` (last value per name) and `files` (first file per name).
   */
  function form(req: FastifyRequest) {
    const contentType = req.headers['content-type'] ?? '';
    const parts = parseMultipart(req.body as Buffer, contentType).map((p) => ({
      name: p.name,
      filename: p.filename,
      contentType: p.contentType,
      bytes: p.data.length,
      ...(p.filename === null ? { value: p.data.toString('utf8') } : {}),
    }));
    const fields: Record<string, string> = {};
    const files: Record<string, { filename: string; bytes: number; type: string }> = {};
    const sha256 = createHash('sha256').update(req.body as Buffer).digest('hex');
    for (const p of parts) {
      if (p.filename === null) fields[p.name] = p.value ?? '';
      else files[p.name] ??= { filename: p.filename, bytes: p.bytes, type: p.contentType ?? '' };
    }
    return { contentType, sha256, parts, fields, files };
  }

  function routes(app: FastifyInstance) {
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.get('/models', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      return { object: 'list', data: ['sim-chat', 'sim-embed', 'sim-image', 'sim-tts', 'sim-whisper', 'relayq-sim/chat-mini'].map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'relayq-sim' })) };
    });

    app.post('/chat/completions', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { model?: string; messages?: { role: string; content: unknown }[]; stream?: boolean; n?: number };
      if (!b.model) return err(reply, 400, 'you must provide a model parameter', 'model', null);
      const last = [...(b.messages ?? [])].reverse().find((m) => m.role === 'user');
      const input = textOf(last?.content);
      const content = `Echo: ${input.replace(/\s*--sim-slow/, '')}`;
      const id = `chatcmpl-sim${hash(JSON.stringify(b)).toString('hex').slice(0, 16)}`;
      const usage = { prompt_tokens: words(input).length, completion_tokens: words(content).length, total_tokens: words(input).length + words(content).length };
      if (b.stream) {
        return streamWords(reply, content, input.includes('--sim-slow'), (piece, last) => ({
          id,
          object: 'chat.completion.chunk',
          created: 1700000000,
          model: b.model,
          choices: [{ index: 0, delta: last ? {} : { ...(piece.startsWith(' ') || piece === '' ? {} : { role: 'assistant' }), content: piece }, finish_reason: last ? 'stop' : null }],
          ...(last ? { usage } : {}),
        }));
      }
      return {
        id,
        object: 'chat.completion',
        created: 1700000000,
        model: b.model,
        choices: Array.from({ length: b.n ?? 1 }, (_, index) => ({ index, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null })),
        usage,
      };
    });

    app.post('/completions', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { model?: string; prompt?: unknown; stream?: boolean };
      const prompt = Array.isArray(b.prompt) ? b.prompt.join(' ') : String(b.prompt ?? '');
      const text = ` Echo: ${prompt.replace(/\s*--sim-slow/, '')}`;
      const id = `cmpl-sim${hash(JSON.stringify(b)).toString('hex').slice(0, 16)}`;
      if (b.stream) {
        return streamWords(reply, text, prompt.includes('--sim-slow'), (piece, last) => ({
          id,
          object: 'text_completion',
          created: 1700000000,
          model: b.model,
          choices: [{ index: 0, text: piece, finish_reason: last ? 'stop' : null, logprobs: null }],
        }));
      }
      return { id, object: 'text_completion', created: 1700000000, model: b.model, choices: [{ index: 0, text, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } };
    });

    app.post('/embeddings', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { model: string; input: unknown; dimensions?: number; encoding_format?: string };
      const inputs = Array.isArray(b.input) && typeof b.input[0] !== 'number' ? b.input : [b.input];
      const dims = b.dimensions ?? 8;
      const data = inputs.map((input, index) => {
        const h = hash(JSON.stringify(input));
        const vec = Array.from({ length: dims }, (_, i) => (h[i % 32]! - 128) / 128);
        const embedding = b.encoding_format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
        return { object: 'embedding', index, embedding };
      });
      return { object: 'list', data, model: b.model, usage: { prompt_tokens: inputs.length, total_tokens: inputs.length } };
    });

    const images = (prompt: string, n: number, format: string | undefined, base: string) => ({
      created: 1700000000,
      data: Array.from({ length: n }, (_, i) =>
        format === 'b64_json' ? { b64_json: PNG.toString('base64'), revised_prompt: prompt } : { url: `${base}/sim/image/${hash(prompt + i).toString('hex').slice(0, 12)}.png`, revised_prompt: prompt },
      ),
    });

    app.post('/images/generations', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { prompt: string; n?: number; response_format?: string };
      return images(b.prompt, b.n ?? 1, b.response_format, `${req.protocol}://${req.host}`);
    });

    app.post('/images/edits', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const received = form(req);
      const { fields, files } = received;
      // One image as `image`, several as `image[]` (what the openai SDK sends for an array).
      const edited = received.parts.filter((p) => (p.name === 'image' || p.name === 'image[]') && p.filename !== null);
      if (!edited.length) return err(reply, 400, 'image is required', 'image', null);
      opts.log({ method: 'FORM', path: req.url, body: received });
      const what = edited.map((p) => `${p.filename}, ${p.bytes} bytes`).join('; ');
      return images(`${fields.prompt} (edited ${what}${files.mask ? ', masked' : ''})`, Number(fields.n ?? 1), fields.response_format, `${req.protocol}://${req.host}`);
    });

    app.post('/audio/speech', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { input: string; voice: string | { id: string }; response_format?: string };
      const format = b.response_format ?? 'mp3';
      const voice = typeof b.voice === 'string' ? b.voice : b.voice.id;
      return reply.type(AUDIO_TYPES[format] ?? 'application/octet-stream').send(Buffer.concat([Buffer.from(`SIMAUDIO:${format}:${voice}:`), hash(b.input)]));
    });

    for (const what of ['transcriptions', 'translations']) {
      app.post(`/audio/${what}`, async (req, reply) => {
        if (await guard(req, reply)) return reply;
        const received = form(req);
        const { fields, files } = received;
        if (!files.file) return err(reply, 400, 'file is required', 'file', null);
        opts.log({ method: 'FORM', path: req.url, body: received });
        const text = `${what === 'translations' ? 'translated' : 'transcribed'} ${files.file.filename} (${files.file.bytes} bytes)${fields.language ? ` in ${fields.language}` : ''}`;
        if (fields.response_format === 'text') return reply.type('text/plain; charset=utf-8').send(text);
        return { text };
      });
    }
  }

  return { routes };
}
