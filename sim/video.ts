import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseMultipart } from '../shared/multipart.js';
import { defineSimFamily, type SimContext } from './types.js';

declare module './types.js' {
  interface SimOptions {
    /** How long a simulated video takes from create to completed (ms; default 3000). */
    videoDurationMs?: number;
  }
}

/**
 * An OpenAI Videos API (`/v1/videos`) as its clients see it. A video's state is computed from the
 * time since it was created (no timers): `queued` (first 10 %), `in_progress` with progress, then
 * `completed` with content for each variant (`video` MP4, `thumbnail` WebP, `spritesheet` JPEG;
 * Range requests answered 206). Every bearer key is its own account: a video is visible only to
 * the key that created it, as on real upstreams. Prompt flags change one video's fate:
 * `--sim-stuck` (never progresses), `--sim-fail` (fails at the end, moderation_blocked),
 * `--sim-lost` (vanishes halfway: 404), `--sim-ms <n>` (its own duration), `--sim-bytes <n>`
 * (size of its MP4), `--sim-odd` (answered the way relays spell it: create answers only
 * `{task_id, status:"pending"}`, retrieve wraps `{code:0, data:{…}}` with `status:"processing"`/
 * `"succeeded"`, progress `"42%"`, numeric `seconds`, ISO `expires_at` and a `video_url`),
 * `--sim-readfail` (every retrieve of it answers 500 server_error, the others are unaffected),
 * `--sim-readhang` (every retrieve of it never answers). Where its media are (for relays that
 * report the result as a URL and have no content route): `--sim-nocontent` (`/videos/{id}/content`
 * answers 404), `--sim-url <field>` (the odd shape reports the MP4's URL, served at
 * `/sim/video/{id}.mp4`, as `video_url` (the default), `result_url` or `metadata.url`),
 * `--sim-foreign` (that URL names the simulator as `localhost`, another host than the channel's).
 * Fault route groups: `video.create` (create and remix), `video.retrieve`, `video.content`,
 * `video.delete`.
 */
type Fate = 'normal' | 'stuck' | 'fail' | 'lost';

export interface SimVideo {
  id: string;
  /** The bearer key that created it (each key is an account). */
  account: string;
  model: string;
  prompt: string;
  seconds: string;
  size: string;
  createdAt: number;
  durationMs: number;
  fate: Fate;
  odd: boolean;
  /** How retrieving it goes wrong, for this video alone. */
  readFault: 'fail' | 'hang' | null;
  /** Where the odd shape reports its URL, whether that URL names another host, whether /content is missing. */
  media: { field: string; foreign: boolean; noContent: boolean };
  /** Bytes of its `video` variant. */
  bytes: number;
  remixOf: string | null;
  deleted: boolean;
  /** What the request carried: its content type and plain fields, and the names of its files. */
  request: { contentType: string; fields: Record<string, unknown>; files: Record<string, { filename: string; bytes: number }> };
}

export interface SimVideoHandle {
  videos: Map<string, SimVideo>;
  /** Awaited after the first chunk of every `video` content answer (tests hold a download half-way). */
  contentGate: (() => Promise<void>) | null;
  /** Content answers begun, finished writing (the whole body handed to the socket), and cut off by the reader going away. */
  contentStarted: number;
  contentFinished: number;
  contentAborted: number;
  /** Requests for the media URLs (`/sim/video/{id}.mp4`), with the authorization they carried. */
  mediaRequests: { path: string; authorization: string | null }[];
}

const SIZES = new Set(['720x1280', '1280x720', '1024x1792', '1792x1024']);
const SECONDS = new Set(['4', '8', '12']);
const CHUNK = 64 * 1024;
const VARIANT_TYPES: Record<string, string> = { video: 'video/mp4', thumbnail: 'image/webp', spritesheet: 'image/jpeg' };

/** The bytes of a variant of a simulated video: a pattern from its id, `length` long (tests rebuild it to compare). */
export function simVideoBytes(id: string, variant: string, length: number): Buffer {
  const seed = createHash('sha256').update(`${id}:${variant}`).digest();
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += seed.length) seed.copy(out, i, 0, Math.min(seed.length, length - i));
  return out;
}

/** Resolves once a response can take more (or is gone), leaving no listener behind. */
function drained(res: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const lengthOf = (v: SimVideo, variant: string) => (variant === 'video' ? v.bytes : variant === 'thumbnail' ? 2048 : 8192);

function fateOf(prompt: string): { fate: Fate; ms: number | null; bytes: number | null; odd: boolean; readFault: SimVideo['readFault']; media: SimVideo['media'] } {
  const num = (flag: string) => {
    const m = new RegExp(`--sim-${flag}\\s+(\\d+)`).exec(prompt);
    return m ? Number(m[1]) : null;
  };
  const fate: Fate = /--sim-stuck/.test(prompt) ? 'stuck' : /--sim-fail/.test(prompt) ? 'fail' : /--sim-lost/.test(prompt) ? 'lost' : 'normal';
  const readFault = /--sim-readfail/.test(prompt) ? 'fail' : /--sim-readhang/.test(prompt) ? 'hang' : null;
  const media = { field: /--sim-url\s+(\S+)/.exec(prompt)?.[1] ?? 'video_url', foreign: /--sim-foreign/.test(prompt), noContent: /--sim-nocontent/.test(prompt) };
  return { fate, ms: num('ms'), bytes: num('bytes'), odd: /--sim-odd/.test(prompt), readFault, media };
}

/** The video as the API shows it now, or null when it is gone (deleted, lost). */
function stateOf(v: SimVideo, now: number) {
  const elapsed = now - v.createdAt;
  if (v.deleted || (v.fate === 'lost' && elapsed > v.durationMs / 2)) return null;
  const base = { id: v.id, object: 'video', model: v.model, prompt: v.prompt, seconds: v.seconds, size: v.size, created_at: Math.floor(v.createdAt / 1000), remixed_from_video_id: v.remixOf };
  const unfinished = { ...base, completed_at: null, expires_at: null, error: null };
  if (v.fate === 'stuck') return { ...unfinished, status: 'in_progress', progress: 10 };
  if (elapsed < v.durationMs * 0.1) return { ...unfinished, status: 'queued', progress: 0 };
  if (elapsed < v.durationMs) return { ...unfinished, status: 'in_progress', progress: Math.max(1, Math.min(99, Math.floor((elapsed / v.durationMs) * 100))) };
  const completedAt = Math.floor((v.createdAt + v.durationMs) / 1000);
  if (v.fate === 'fail') {
    return { ...base, status: 'failed', progress: 100, completed_at: completedAt, expires_at: null, error: { code: 'moderation_blocked', message: 'Your request was blocked by our moderation system.' } };
  }
  return { ...base, status: 'completed', progress: 100, completed_at: completedAt, expires_at: completedAt + 3600, error: null };
}

/** The relay spelling of a video (see `--sim-odd`). */
function oddly(state: NonNullable<ReturnType<typeof stateOf>>, base: string, media: SimVideo['media']) {
  const status = state.status === 'in_progress' ? 'processing' : state.status === 'completed' ? 'succeeded' : state.status;
  const done = state.status === 'completed';
  const url = `${media.foreign ? base.replace('127.0.0.1', 'localhost') : base}/sim/video/${state.id}.mp4`;
  const located = media.field === 'metadata.url' ? { metadata: { url } } : { [media.field]: url };
  return {
    code: 0,
    data: {
      ...state,
      status,
      progress: `${state.progress}%`,
      seconds: Number(state.seconds),
      expires_at: state.expires_at ? new Date(state.expires_at * 1000).toISOString() : null,
      ...(done ? located : {}),
    },
  };
}

export function createSimVideo(ctx: SimContext) {
  const handle: SimVideoHandle = { videos: new Map(), contentGate: null, contentStarted: 0, contentFinished: 0, contentAborted: 0, mediaRequests: [] };
  const durationMs = ctx.options.videoDurationMs ?? 3000;
  const err = (reply: FastifyReply, status: number, message: string, param: string | null, code: string | null) =>
    reply.status(status).send({ error: { message, type: 'invalid_request_error', param, code } });
  const accountOf = (req: FastifyRequest) => String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  const notFound = (reply: FastifyReply, id: string) => err(reply, 404, `Video with id '${id}' not found.`, null, null);

  /** Logs the request and applies faults; true when a fault answered it. */
  async function guard(group: string, req: FastifyRequest, reply: FastifyReply, body?: unknown) {
    ctx.log({ method: req.method, path: req.url, ...(body !== undefined ? { body } : {}) });
    return ctx.faults.apply(group, req, reply);
  }

  /** A JSON or multipart body as fields and file summaries. */
  function read(req: FastifyRequest): SimVideo['request'] {
    const contentType = req.headers['content-type'] ?? '';
    if (!Buffer.isBuffer(req.body)) return { contentType, fields: (req.body ?? {}) as Record<string, unknown>, files: {} };
    const fields: Record<string, unknown> = {};
    const files: SimVideo['request']['files'] = {};
    for (const p of parseMultipart(req.body, contentType)) {
      if (p.filename === null) fields[p.name] = p.data.toString('utf8');
      else files[p.name] = { filename: p.filename, bytes: p.data.length };
    }
    return { contentType, fields, files };
  }

  /** A video of this account, by the `:id` of the route (deleted and lost ones too). */
  function find(req: FastifyRequest): SimVideo | undefined {
    const v = handle.videos.get((req.params as { id: string }).id);
    return v && v.account === accountOf(req) ? v : undefined;
  }

  function make(req: FastifyRequest, request: SimVideo['request'], parent: SimVideo | null): SimVideo {
    const f = request.fields;
    const prompt = String(f.prompt);
    const fate = fateOf(prompt);
    const v: SimVideo = {
      id: `video_${randomBytes(16).toString('hex')}`,
      account: accountOf(req),
      model: parent?.model ?? (typeof f.model === 'string' ? f.model : 'sora-2'),
      prompt,
      seconds: parent?.seconds ?? (f.seconds === undefined ? '4' : String(f.seconds)),
      size: parent?.size ?? (typeof f.size === 'string' ? f.size : '720x1280'),
      createdAt: Date.now(),
      durationMs: fate.ms ?? durationMs,
      fate: fate.fate,
      odd: fate.odd,
      readFault: fate.readFault,
      media: fate.media,
      bytes: fate.bytes ?? 256 * 1024,
      remixOf: parent?.id ?? null,
      deleted: false,
      request,
    };
    handle.videos.set(v.id, v);
    return v;
  }

  const created = (v: SimVideo) => (v.odd ? { task_id: v.id, status: 'pending' } : stateOf(v, Date.now()));

  async function content(req: FastifyRequest, reply: FastifyReply, v: SimVideo, variant: string) {
    const total = lengthOf(v, variant);
    const bytes = simVideoBytes(v.id, variant, total);
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
    const body = bytes.subarray(start, end + 1);
    handle.contentStarted++;
    reply.hijack();
    reply.raw.writeHead(range ? 206 : 200, {
      'content-type': VARIANT_TYPES[variant]!,
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${total}` } : {}),
    });
    for (let i = 0; i < body.length; i += CHUNK) {
      if (reply.raw.destroyed) return void handle.contentAborted++;
      reply.raw.write(body.subarray(i, i + CHUNK));
      if (i === 0 && variant === 'video' && handle.contentGate) await handle.contentGate();
      // Asked after the gate: a drain may have come and gone while it held the answer.
      if (reply.raw.writableNeedDrain && !reply.raw.destroyed) await drained(reply.raw);
    }
    reply.raw.end();
    handle.contentFinished++;
  }

  /** The MP4 at the URL the odd shape reports (any key or none: a CDN link). */
  async function media(req: FastifyRequest, reply: FastifyReply) {
    handle.mediaRequests.push({ path: req.url, authorization: req.headers.authorization ?? null });
    const v = handle.videos.get((req.params as { file: string }).file.replace(/\.mp4$/, ''));
    const state = v ? stateOf(v, Date.now()) : null;
    if (!v || state?.status !== 'completed') return reply.status(404).send('not found');
    return content(req, reply, v, 'video');
  }

  async function register(app: FastifyInstance) {
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.post('/videos', async (req, reply) => {
      const request = read(req);
      if (await guard('video.create', req, reply, request)) return reply;
      const f = request.fields;
      if (typeof f.prompt !== 'string' || !f.prompt.trim()) return err(reply, 400, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
      if (typeof f.seconds === 'number') return err(reply, 400, `Invalid type for 'seconds': expected one of '4', '8', or '12', but got an integer instead.`, 'seconds', 'invalid_type');
      if (f.seconds !== undefined && !SECONDS.has(String(f.seconds))) return err(reply, 400, `Invalid value: '${String(f.seconds)}'. Supported values are: '4', '8', and '12'.`, 'seconds', 'invalid_value');
      if (f.size !== undefined && !SIZES.has(String(f.size))) return err(reply, 400, `Invalid value: '${String(f.size)}'. Supported values are: ${[...SIZES].map((x) => `'${x}'`).join(', ')}.`, 'size', 'invalid_value');
      return created(make(req, request, null));
    });

    app.post('/videos/:id/remix', async (req, reply) => {
      const request = read(req);
      if (await guard('video.create', req, reply, request)) return reply;
      const parent = find(req);
      const state = parent ? stateOf(parent, Date.now()) : null;
      if (!parent || !state) return notFound(reply, (req.params as { id: string }).id);
      if (state.status !== 'completed') return err(reply, 400, `Video ${parent.id} is not completed (it is ${state.status}); only completed videos can be remixed.`, null, 'invalid_request');
      if (typeof request.fields.prompt !== 'string' || !request.fields.prompt.trim()) return err(reply, 400, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
      return created(make(req, request, parent));
    });

    app.get('/videos/:id', async (req, reply) => {
      if (await guard('video.retrieve', req, reply)) return reply;
      const v = find(req);
      if (v?.readFault === 'fail') return reply.status(500).send({ error: { message: 'The server had an error processing your request.', type: 'server_error', param: null, code: 'server_error' } });
      if (v?.readFault === 'hang') {
        // Held open until the client gives up.
        reply.hijack();
        return new Promise<void>((resolve) => req.raw.on('close', resolve));
      }
      const state = v ? stateOf(v, Date.now()) : null;
      if (!v || !state) return notFound(reply, (req.params as { id: string }).id);
      return v.odd ? oddly(state, ctx.baseOf(req), v.media) : state;
    });

    app.delete('/videos/:id', async (req, reply) => {
      if (await guard('video.delete', req, reply)) return reply;
      const v = find(req);
      if (!v || v.deleted) return notFound(reply, (req.params as { id: string }).id);
      v.deleted = true;
      return { id: v.id, object: 'video.deleted', deleted: true };
    });

    app.get('/videos/:id/content', async (req, reply) => {
      if (await guard('video.content', req, reply)) return reply;
      const v = find(req);
      const state = v ? stateOf(v, Date.now()) : null;
      if (!v || !state || v.media.noContent) return notFound(reply, (req.params as { id: string }).id);
      const variant = (req.query as { variant?: string }).variant ?? 'video';
      if (!VARIANT_TYPES[variant]) return err(reply, 400, `Invalid value: '${variant}'. Supported values are: 'video', 'thumbnail', and 'spritesheet'.`, 'variant', 'invalid_value');
      if (state.status !== 'completed') return err(reply, 400, `Video is not ready yet (status ${state.status}).`, null, 'video_not_ready');
      return content(req, reply, v, variant);
    });
  }

  return { register, media, handle };
}

export default defineSimFamily<SimVideoHandle>({
  name: 'video',
  channelType: 'openai',
  basePath: '/v1',
  create(ctx) {
    const sim = createSimVideo(ctx);
    return {
      async register(app) {
        await app.register(async (scope) => sim.register(scope), { prefix: '/v1' });
        app.get('/sim/video/:file', (req, reply) => sim.media(req, reply));
      },
      isWorkCall: (method, url) => method === 'POST' && url.startsWith('/v1/videos'),
      handle: sim.handle,
    };
  },
});
