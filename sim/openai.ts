import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseMultipart } from '../shared/multipart.js';
import type { Faults, StreamFault } from './faults.js';
import { defineSimFamily } from './types.js';

declare module './types.js' {
  interface SimOptions {
    /** Expected OpenAI bearer key; empty accepts any. */
    openaiKey?: string;
  }
}

/**
 * An OpenAI-compatible upstream with deterministic answers: the same request always gets the
 * same answer. A message or prompt containing `--sim-slow` streams one token per 100 ms; a chat
 * message containing `--sim-tool` in a request with `tools` is answered with a call of the first
 * tool (`{"city":"Tokyo"}`), streamed with its arguments in three pieces. A `stream` fault
 * (faults.ts) shapes these answers.
 */
export interface SimOpenAiOptions {
  key: string;
  faults: Faults;
  log: (entry: { method: string; path: string; body?: unknown }) => void;
  /** The base of the image URLs answered to this request (no trailing slash). */
  baseOf: (req: FastifyRequest) => string;
}

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const hash = (s: string) => createHash('sha256').update(s).digest();
const words = (s: string) => s.split(/\s+/).filter(Boolean);

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: { text?: string }) => p?.text ?? '').join(' ');
  return '';
}

/** One part of a multipart request as the simulator received it; `value` for fields, not files. */
export interface SimFormPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  bytes: number;
  value?: string;
}

/** A multipart request as received, the `body` of its entry in the request log. */
export interface SimForm {
  contentType: string;
  /** SHA-256 of the whole body, hex. */
  sha256: string;
  parts: SimFormPart[];
  /** Last value per field name. */
  fields: Record<string, string>;
  /** First file per name. */
  files: Record<string, { filename: string; bytes: number; type: string }>;
}

const AUDIO_TYPES: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };

export function createSimOpenAi(opts: SimOpenAiOptions) {
  const err = (reply: FastifyReply, status: number, message: string, param: string | null, code: string | null) =>
    reply.status(status).send({ error: { message, type: 'invalid_request_error', param, code } });

  /**
   * Logs the request once, as received: a JSON body as parsed, a multipart body as its parts
   * (form), a body that is neither as nothing.
   */
  async function guard(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    opts.log({ method: req.method, path: req.url, body: Buffer.isBuffer(req.body) ? formOrNothing(req) : req.body });
    if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`) {
      await err(reply, 401, 'Incorrect API key provided', null, 'invalid_api_key');
      return true;
    }
    return opts.faults.apply('openai', req, reply);
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /**
   * Writes chunks as server-sent events, then `[DONE]`, as the `stream` fault (if any) shapes it.
   * `last` builds the closing chunk (finish_reason, usage).
   */
  async function streamChunks(reply: FastifyReply, chunks: unknown[], last: unknown, slow: boolean, plan: StreamFault | undefined) {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const gone = () => reply.raw.destroyed;
    for (let i = 0; i <= chunks.length; i++) {
      if (plan?.endAfter === i) return void reply.raw.end();
      if (plan?.errorAfter === i) {
        const error = plan.error ?? { error: { message: 'simulated stream error', type: 'server_error', param: null, code: null } };
        return void reply.raw.end(`${plan.asEvent ? 'event: error\n' : ''}data: ${JSON.stringify(error)}\n\n`);
      }
      if (plan?.stallAfter === i && plan.stallMs) await sleep(plan.stallMs);
      if (i === chunks.length) break;
      const wait = plan?.intervalMs ?? (slow ? 100 : 0);
      if (wait) await sleep(wait);
      if (gone()) return;
      reply.raw.write(`data: ${JSON.stringify(chunks[i])}\n\n`);
    }
    if (gone()) return;
    reply.raw.write(`data: ${JSON.stringify(last)}\n\n`);
    reply.raw.end('data: [DONE]\n\n');
  }

  /** The pieces of a streamed text: its words, or `t1 t2 …` when a fault asks for a number of chunks. */
  const piecesOf = (text: string, plan: StreamFault | undefined) => (plan?.chunks ? Array.from({ length: plan.chunks }, (_, i) => `t${i + 1}`) : words(text)).map((w, i) => `${i ? ' ' : ''}${w}`);

  const forms = new WeakMap<FastifyRequest, SimForm>();

  /** The parts of a multipart request (form), undefined for any other body or a broken one. */
  function formOrNothing(req: FastifyRequest): SimForm | undefined {
    try {
      return form(req);
    } catch {
      return undefined;
    }
  }

  /**
   * A multipart body as received: every part in order (repeated names, `name[]`, file names,
   * content types as sent), plus `fields` (last value per name) and `files` (first file per name).
   * Read once per request.
   * @throws MultipartError when the body is not multipart/form-data.
   */
  function form(req: FastifyRequest): SimForm {
    const known = forms.get(req);
    if (known) return known;
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
    const received = { contentType, sha256, parts, fields, files };
    forms.set(req, received);
    return received;
  }

  function routes(app: FastifyInstance) {
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.get('/models', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      return { object: 'list', data: ['sim-chat', 'sim-embed', 'sim-image', 'sim-tts', 'sim-whisper', 'relayq-sim/chat-mini'].map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'relayq-sim' })) };
    });

    app.post('/chat/completions', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { model?: string; messages?: { role: string; content: unknown }[]; stream?: boolean; n?: number; tools?: { function?: { name?: string } }[] };
      if (!b.model) return err(reply, 400, 'you must provide a model parameter', 'model', null);
      const plan = opts.faults.streamFor(req);
      const last = [...(b.messages ?? [])].reverse().find((m) => m.role === 'user');
      const input = textOf(last?.content);
      const id = `chatcmpl-sim${hash(JSON.stringify(b)).toString('hex').slice(0, 16)}`;
      const tool = input.includes('--sim-tool') ? b.tools?.[0]?.function?.name : undefined;
      const echo = `Echo: ${input.replace(/\s*--sim-(slow|tool)/g, '')}`;
      const pieces = piecesOf(echo, plan);
      const content = plan?.chunks ? pieces.join('') : echo;
      const usage = { prompt_tokens: words(input).length, completion_tokens: pieces.length, total_tokens: words(input).length + pieces.length };
      const head = { id, object: 'chat.completion.chunk', created: 1700000000, model: b.model };
      const args = ['', '{"city":', '"Tokyo"}'];
      const call = { id: 'call_sim1', type: 'function', function: { name: tool, arguments: args.join('') } };
      if ((b.stream && !plan?.json) || plan?.sse) {
        const chunk = (delta: unknown) => ({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] });
        const chunks = tool
          ? args.map((a, i) => chunk(i === 0 ? { role: 'assistant', content: null, tool_calls: [{ index: 0, ...call, function: { name: tool, arguments: a } }] } : { tool_calls: [{ index: 0, function: { arguments: a } }] }))
          : pieces.map((p, i) => chunk(i === 0 ? { role: 'assistant', content: p } : { content: p }));
        const end = { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: tool ? 'tool_calls' : 'stop' }], usage };
        return streamChunks(reply, chunks, end, input.includes('--sim-slow'), plan);
      }
      const message = tool ? { role: 'assistant', content: null, tool_calls: [call], refusal: null } : { role: 'assistant', content, refusal: null };
      return {
        id,
        object: 'chat.completion',
        created: 1700000000,
        model: b.model,
        choices: Array.from({ length: b.n ?? 1 }, (_, index) => ({ index, message, finish_reason: tool ? 'tool_calls' : 'stop', logprobs: null })),
        usage,
      };
    });

    app.post('/completions', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const b = req.body as { model?: string; prompt?: unknown; stream?: boolean };
      const plan = opts.faults.streamFor(req);
      const prompt = Array.isArray(b.prompt) ? b.prompt.join(' ') : String(b.prompt ?? '');
      const pieces = piecesOf(`Echo: ${prompt.replace(/\s*--sim-slow/, '')}`, plan);
      const id = `cmpl-sim${hash(JSON.stringify(b)).toString('hex').slice(0, 16)}`;
      const head = { id, object: 'text_completion', created: 1700000000, model: b.model };
      if ((b.stream && !plan?.json) || plan?.sse) {
        const chunks = pieces.map((p) => ({ ...head, choices: [{ index: 0, text: p, finish_reason: null, logprobs: null }] }));
        return streamChunks(reply, chunks, { ...head, choices: [{ index: 0, text: '', finish_reason: 'stop', logprobs: null }] }, prompt.includes('--sim-slow'), plan);
      }
      return { ...head, choices: [{ index: 0, text: ` ${pieces.join('')}`, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } };
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
      return images(b.prompt, b.n ?? 1, b.response_format, opts.baseOf(req));
    });

    app.post('/images/edits', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const received = form(req);
      const { fields, files } = received;
      // One image as `image`, several as `image[]` (what the openai SDK sends for an array).
      const edited = received.parts.filter((p) => (p.name === 'image' || p.name === 'image[]') && p.filename !== null);
      if (!edited.length) return err(reply, 400, 'image is required', 'image', null);
      const what = edited.map((p) => `${p.filename}, ${p.bytes} bytes`).join('; ');
      return images(`${fields.prompt} (edited ${what}${files.mask ? ', masked' : ''})`, Number(fields.n ?? 1), fields.response_format, opts.baseOf(req));
    });

    // Variations of one image: no prompt, and no revised_prompt in the answer (as dall-e-2 answers).
    app.post('/images/variations', async (req, reply) => {
      if (await guard(req, reply)) return reply;
      const { fields, files } = form(req);
      if (!files.image) return err(reply, 400, 'image is required', 'image', null);
      const seed = `${files.image.filename}:${files.image.bytes}:${fields.size ?? ''}`;
      return {
        created: 1700000000,
        data: Array.from({ length: Number(fields.n ?? 1) }, (_, i) =>
          fields.response_format === 'b64_json' ? { b64_json: PNG.toString('base64') } : { url: `${opts.baseOf(req)}/sim/image/variation-${hash(seed + i).toString('hex').slice(0, 12)}.png` },
        ),
      };
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
        const text = `${what === 'translations' ? 'translated' : 'transcribed'} ${files.file.filename} (${files.file.bytes} bytes)${fields.language ? ` in ${fields.language}` : ''}`;
        if (fields.response_format === 'text') return reply.type('text/plain; charset=utf-8').send(text);
        return { text };
      });
    }
  }

  return { routes };
}

export default defineSimFamily<null>({
  name: 'openai',
  channelType: 'openai',
  basePath: '/v1',
  create(ctx) {
    const openai = createSimOpenAi({ key: ctx.options.openaiKey ?? '', faults: ctx.faults, log: ctx.log, baseOf: ctx.baseOf });
    return {
      async register(app) {
        await app.register(async (scope) => openai.routes(scope), { prefix: '/v1' });
      },
      // Every POST under /v1 is a work call (another family's under /v1 too: counting is the same).
      isWorkCall: (method, url) => method === 'POST' && url.startsWith('/v1/'),
      handle: null,
    };
  },
});
