import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StreamFault } from './faults.js';
import { defineSimFamily, type SimContext } from './types.js';

declare module './types.js' {
  interface SimOptions {
    /** Expected Anthropic key (`x-api-key`, or `Authorization: Bearer`); empty accepts any. */
    anthropicKey?: string;
  }
}

/** One Messages call as the simulated upstream received it: the headers relayq forwards, and the body. */
export interface SimAnthropicCall {
  apiKey: string | null;
  version: string | null;
  beta: string | null;
  body: unknown;
}

/** What tests read of the simulated Anthropic upstream: every Messages call, oldest first. */
export interface SimAnthropic {
  calls: SimAnthropicCall[];
}

type Json = Record<string, unknown>;
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const words = (s: string) => s.split(/\s+/).filter(Boolean);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const error = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: `req_sim${hash(message).slice(0, 16)}` });

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((b: { text?: unknown }) => (typeof b?.text === 'string' ? b.text : '')).join(' ');
  return '';
}

/**
 * The deterministic answer to a request: `Echo: <last user text>`; with `--sim-tool` and `tools`, a
 * short text and a call of the first tool (`{"city":"Tokyo"}`, stop reason `tool_use`); with
 * `--sim-think` or `thinking` enabled, a signed thinking block first. Each block's pieces are what
 * a stream sends as its deltas.
 */
function answerOf(b: Json, plan: StreamFault | undefined) {
  const messages = Array.isArray(b.messages) ? (b.messages as { role?: string; content?: unknown }[]) : [];
  const input = textOf([...messages].reverse().find((m) => m.role === 'user')?.content);
  const clean = input.replace(/\s*--sim-[a-z]+/g, '').trim();
  const tool = input.includes('--sim-tool') && Array.isArray(b.tools) ? (b.tools[0] as { name?: string } | undefined)?.name : undefined;
  const think = input.includes('--sim-think') || (b.thinking as { type?: string } | undefined)?.type === 'enabled';
  const blocks: { block: Json; pieces: string[] }[] = [];
  const spaced = (ws: string[]) => ws.map((w, i) => `${i ? ' ' : ''}${w}`);
  if (think) {
    const pieces = spaced(words(`Thinking about: ${clean}`));
    blocks.push({ block: { type: 'thinking', thinking: pieces.join(''), signature: `sig_${hash(clean).slice(0, 24)}` }, pieces });
  }
  if (tool) {
    blocks.push({ block: { type: 'text', text: 'Let me check.' }, pieces: ['Let me check.'] });
    blocks.push({ block: { type: 'tool_use', id: 'toolu_sim1', name: tool, input: { city: 'Tokyo' } }, pieces: ['', '{"city":', ' "Tokyo"}'] });
  } else {
    const pieces = plan?.chunks ? spaced(Array.from({ length: plan.chunks }, (_, i) => `t${i + 1}`)) : spaced(words(`Echo: ${clean}`));
    blocks.push({ block: { type: 'text', text: pieces.join('') }, pieces });
  }
  const output = blocks.reduce((n, x) => n + x.pieces.length, 0);
  return {
    message: {
      id: `msg_sim${hash(JSON.stringify(b)).slice(0, 20)}`,
      type: 'message',
      role: 'assistant',
      model: b.model,
      content: blocks.map((x) => x.block),
      stop_reason: tool ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: words(input).length, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
    blocks,
    slow: input.includes('--sim-slow'),
  };
}

/** The error event Anthropic sends when it is overloaded mid-stream (as seen in the wild, `details` included). */
const OVERLOADED = { type: 'error', error: { details: null, type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_sim_overloaded' };

/** A block as its `content_block_start` opens it, and one of its pieces as a delta. */
function startOf(block: Json): Json {
  if (block.type === 'text') return { type: 'text', text: '' };
  if (block.type === 'thinking') return { type: 'thinking', thinking: '', signature: '' };
  return { ...block, input: {} };
}
function deltaOf(block: Json, piece: string): Json {
  if (block.type === 'text') return { type: 'text_delta', text: piece };
  if (block.type === 'thinking') return { type: 'thinking_delta', thinking: piece };
  return { type: 'input_json_delta', partial_json: piece };
}

/**
 * Streams an answer as Anthropic does: `message_start`, per block its start (a `ping` after the
 * first), deltas and stop (a thinking block's `signature_delta` before its stop), `message_delta`,
 * `message_stop`. A `stream` fault shapes it, counting deltas: `intervalMs` before each,
 * `stallAfter`/`stallMs`, `errorAfter` (an `event: error`, default `overloaded_error`, then the
 * connection closes; 0 means right after `message_start`, as Anthropic's overloads come),
 * `endAfter` (the connection just closes).
 */
async function streamAnswer(reply: FastifyReply, answer: ReturnType<typeof answerOf>, plan: StreamFault | undefined) {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': 'req_sim_stream' });
  const send = (event: Json) => reply.raw.write(`event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`);
  const { content: _content, stop_reason, usage, ...head } = answer.message;
  send({ type: 'message_start', message: { ...head, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
  let sent = 0;
  /** Before delta number `sent` (and before the end): true when the fault ended the stream. */
  const fault = async (): Promise<boolean> => {
    if (plan?.endAfter === sent) return reply.raw.end(), true;
    if (plan?.errorAfter === sent) {
      reply.raw.end(`event: error\ndata: ${JSON.stringify(plan.error ?? OVERLOADED)}\n\n`);
      return true;
    }
    if (plan?.stallAfter === sent && plan.stallMs) await sleep(plan.stallMs);
    const wait = plan?.intervalMs ?? (answer.slow ? 100 : 0);
    if (wait) await sleep(wait);
    return reply.raw.destroyed;
  };
  for (const [index, { block, pieces }] of answer.blocks.entries()) {
    send({ type: 'content_block_start', index, content_block: startOf(block) });
    if (index === 0) send({ type: 'ping' });
    for (const piece of pieces) {
      if (await fault()) return;
      send({ type: 'content_block_delta', index, delta: deltaOf(block, piece) });
      sent++;
    }
    if (block.type === 'thinking') send({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
    send({ type: 'content_block_stop', index });
  }
  if (await fault()) return;
  send({ type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  send({ type: 'message_stop' });
  reply.raw.end();
}

function createSimAnthropic(ctx: SimContext) {
  const calls: SimAnthropicCall[] = [];
  const key = ctx.options.anthropicKey ?? '';
  const one = (req: FastifyRequest, name: string) => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v.join(',') : v) ?? null;
  };
  const authorized = (req: FastifyRequest) => !key || one(req, 'x-api-key') === key || one(req, 'authorization') === `Bearer ${key}`;

  async function routes(app: FastifyInstance) {
    app.get('/v1/models', async (req, reply) => {
      ctx.log({ method: req.method, path: req.url });
      if (!authorized(req)) return reply.status(401).send(error('authentication_error', 'invalid x-api-key'));
      if (await ctx.faults.apply('anthropic', req, reply)) return reply;
      return { data: [{ type: 'model', id: 'claude-sim', display_name: 'Claude (simulated)', created_at: '2025-01-01T00:00:00Z' }], has_more: false, first_id: 'claude-sim', last_id: 'claude-sim' };
    });

    // A count of the request's text in words (deterministic, not Anthropic's tokenizer).
    app.post('/v1/messages/count_tokens', async (req, reply) => {
      ctx.log({ method: req.method, path: req.url, body: req.body });
      calls.push({ apiKey: one(req, 'x-api-key'), version: one(req, 'anthropic-version'), beta: one(req, 'anthropic-beta'), body: req.body });
      if (!authorized(req)) return reply.status(401).send(error('authentication_error', 'invalid x-api-key'));
      if (await ctx.faults.apply('anthropic', req, reply)) return reply;
      const b = (req.body ?? {}) as Json;
      for (const field of ['model', 'messages']) {
        if (b[field] === undefined) return reply.status(400).send(error('invalid_request_error', `${field}: Field required`));
      }
      return { input_tokens: words(JSON.stringify(b.messages)).length };
    });

    app.post('/v1/messages', async (req, reply) => {
      ctx.log({ method: req.method, path: req.url, body: req.body });
      calls.push({ apiKey: one(req, 'x-api-key'), version: one(req, 'anthropic-version'), beta: one(req, 'anthropic-beta'), body: req.body });
      if (!authorized(req)) return reply.status(401).send(error('authentication_error', 'invalid x-api-key'));
      if (await ctx.faults.apply('anthropic', req, reply)) return reply;
      const b = (req.body ?? {}) as Json;
      for (const field of ['model', 'max_tokens', 'messages']) {
        if (b[field] === undefined) return reply.status(400).send(error('invalid_request_error', `${field}: Field required`));
      }
      const plan = ctx.faults.streamFor(req);
      const answer = answerOf(b, plan);
      if ((b.stream === true && !plan?.json) || plan?.sse) return streamAnswer(reply, answer, plan);
      return reply.header('request-id', 'req_sim_message').send(answer.message);
    });
  }
  return { routes, handle: { calls } satisfies SimAnthropic };
}

/**
 * An Anthropic-compatible upstream under `/anthropic` (a channel's `baseUrl` is
 * `<sim>/anthropic`; relayq calls `<baseUrl>/v1/messages`), with deterministic answers: the same
 * request always gets the same Message. Magic words in the last user message: `--sim-slow` (a
 * delta per 100 ms), `--sim-tool` (a tool call, with `tools`), `--sim-think` (a thinking block).
 * Faults of the route group `anthropic` (faults.ts) apply, `stream` ones shaping the stream.
 */
export default defineSimFamily<SimAnthropic>({
  name: 'anthropic',
  channelType: 'anthropic',
  basePath: '/anthropic',
  create(ctx) {
    const sim = createSimAnthropic(ctx);
    return {
      async register(app) {
        await app.register(async (scope) => sim.routes(scope), { prefix: '/anthropic' });
      },
      isWorkCall: (method, url) => method === 'POST' && url.startsWith('/anthropic/v1/messages'),
      handle: sim.handle,
    };
  },
});
