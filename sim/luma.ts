import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Faults } from './faults.js';
import { defineSimFamily } from './types.js';

declare module './types.js' {
  interface SimOptions {
    /** How long a Luma generation takes from submit to `completed` (ms; default 8000). */
    lumaDurationMs?: number;
    /** Expected `Authorization: Bearer` secret (Luma-API's SECRET_TOKEN); empty accepts any. */
    lumaSecret?: string;
  }
}

/**
 * A Luma-API server (LumaAI-API/Luma-API) as its clients see it: `POST /luma/generations` (and
 * `/luma/generations/`), `POST /luma/generations/{id}/extend`, `GET /luma/generations/{id}`. A
 * generation's state is computed from the time since it was submitted: `pending` (first 20 %),
 * `processing`, then `completed` with its video. Prompt flags change one generation's fate:
 * `--sim-ms <n>` (its own duration), `--sim-stuck` (never finishes), `--sim-fail` (ends `failed`
 * with a `failure_reason`), `--sim-lost` (404 from halfway on), `--sim-novideo` (`completed`
 * without a video URL, for good), `--sim-novideo-ms <n>` (`completed` without one for n ms, then
 * with it), `--sim-odd` (the odd shapes relays answer: a submit of only `{"task_id"}`, fetches
 * wrapped in `{"data":[…]}` with `status` for `state`, nulls, sizes as strings, the video only
 * under `artifact`). Faults apply to the route groups `luma-submit` and `luma-fetch`; `reshape`,
 * set in-process, rewrites every generation it answers.
 */
type Fate = 'normal' | 'stuck' | 'fail' | 'lost' | 'novideo';

export interface SimLumaGeneration {
  id: string;
  prompt: string;
  submittedAt: number;
  durationMs: number;
  fate: Fate;
  /** How long `completed` comes without a video URL (ms; Infinity for `--sim-novideo`). */
  noVideoMs: number;
  odd: boolean;
  /** The upstream id of the generation it extends. */
  extendOf: string | null;
  /** The request body as received. */
  request: Record<string, unknown>;
}

type View = Record<string, unknown>;

const flagMs = (prompt: string, flag: string) => {
  const m = new RegExp(`${flag}\\s+(\\d+)`).exec(prompt);
  return m ? Number(m[1]) : null;
};

function fateOf(prompt: string): Fate {
  if (/--sim-stuck/.test(prompt)) return 'stuck';
  if (/--sim-fail/.test(prompt)) return 'fail';
  if (/--sim-lost/.test(prompt)) return 'lost';
  if (/--sim-novideo(?!-ms)/.test(prompt)) return 'novideo';
  return 'normal';
}

const refuse = (reply: FastifyReply, status: number, detail: unknown) => reply.status(status).send({ detail });

export function createSimLuma(opts: { durationMs: number; secret: string; faults: Faults; log: (e: { method: string; path: string; body?: unknown }) => void; baseOf: (req: FastifyRequest) => string }) {
  const generations = new Map<string, SimLumaGeneration>();
  const hooks: { reshape: ((g: View) => View) | null } = { reshape: null };

  const media = (base: string, g: SimLumaGeneration, what: string, ext: string) => ({ url: `${base}/sim/luma/${g.id}-${what}.${ext}`, width: 1360, height: 752 });

  /** The generation as Luma-API answers it at `now`; null once it is "lost". */
  function view(g: SimLumaGeneration, base: string, now = Date.now()): View | null {
    const elapsed = now - g.submittedAt;
    const common = { id: g.id, prompt: g.prompt, created_at: new Date(g.submittedAt).toISOString(), liked: null };
    if (g.fate === 'lost' && elapsed > g.durationMs / 2) return null;
    if (g.fate !== 'stuck' && elapsed < g.durationMs * 0.2)
      return { ...common, state: 'pending', video: null, estimate_wait_seconds: Math.ceil(g.durationMs / 1000), thumbnail: null, last_frame: null };
    if (g.fate === 'stuck' || elapsed < g.durationMs) return { ...common, state: 'processing', video: null, estimate_wait_seconds: null, thumbnail: null, last_frame: null };
    if (g.fate === 'fail') return { ...common, state: 'failed', video: null, failure_reason: 'Your prompt was flagged by our content moderation', thumbnail: null, last_frame: null };
    const thumbnail = media(base, g, 'thumb', 'jpg');
    if (elapsed < g.durationMs + g.noVideoMs) return { ...common, state: 'completed', video: null, estimate_wait_seconds: null, thumbnail, last_frame: null };
    const video = { ...media(base, g, 'video', 'mp4'), thumbnail: null, download_url: `${base}/sim/luma/${g.id}-video.mp4?download=1` };
    return { ...common, state: 'completed', video, video_raw: media(base, g, 'raw', 'mp4'), thumbnail, last_frame: media(base, g, 'last', 'jpg'), estimate_wait_seconds: null };
  }

  /** The odd shapes relays answer with: `status` for `state`, nulls, sizes as strings, the video under `artifact`. */
  function oddly(v: View): View {
    const { state, video, thumbnail, ...rest } = v;
    const vid = video as { url: string; width: number; height: number } | null;
    return {
      ...rest,
      status: String(state).toUpperCase(),
      prompt: null,
      created_at: null,
      video: vid ? { url: null, width: null, height: null } : null,
      artifact: vid ? { video: { url: vid.url, width: String(vid.width), height: String(vid.height) }, thumbnail } : null,
      thumbnail: null,
      last_frame: undefined,
      failure_reason: rest.failure_reason ?? null,
    };
  }

  function answer(g: SimLumaGeneration, v: View | null): unknown {
    if (!v) return null;
    const shaped = g.odd ? { data: [oddly(v)] } : v;
    return hooks.reshape ? hooks.reshape(shaped as View) : shaped;
  }

  function create(body: Record<string, unknown>, extendOf: string | null): SimLumaGeneration {
    const prompt = typeof body.user_prompt === 'string' ? body.user_prompt : '';
    const g: SimLumaGeneration = {
      id: randomUUID(),
      prompt,
      submittedAt: Date.now(),
      durationMs: flagMs(prompt, '--sim-ms') ?? opts.durationMs,
      fate: fateOf(prompt),
      noVideoMs: /--sim-novideo(?!-ms)/.test(prompt) ? Infinity : (flagMs(prompt, '--sim-novideo-ms') ?? 0),
      odd: prompt.includes('--sim-odd'),
      extendOf,
      request: body,
    };
    generations.set(g.id, g);
    return g;
  }

  /** Logs the request, checks the secret, applies faults; true when the request was answered. */
  async function guard(route: string, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    opts.log({ method: req.method, path: req.url, body: req.body ?? undefined });
    if (opts.secret && req.headers.authorization !== `Bearer ${opts.secret}`) {
      await refuse(reply, 401, { reason: 'unauthorized secret token', code: 1 });
      return true;
    }
    return opts.faults.apply(route, req, reply);
  }

  function routes(app: FastifyInstance) {
    const generate = (extend: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      if (await guard('luma-submit', req, reply)) return reply;
      const body = (req.body ?? {}) as Record<string, unknown>;
      let parent: SimLumaGeneration | null = null;
      if (extend) {
        parent = generations.get((req.params as { id: string }).id) ?? null;
        if (!parent || !view(parent, opts.baseOf(req))) return refuse(reply, 404, 'Not found');
        if ((view(parent, opts.baseOf(req))?.video ?? null) === null) return refuse(reply, 400, 'the generation to extend is not completed');
      } else if (!body.user_prompt && !body.image_url) return refuse(reply, 400, 'user_prompt is required');
      const g = create(body, parent?.id ?? null);
      if (g.odd) return { task_id: g.id };
      return answer(g, view(g, opts.baseOf(req)));
    };
    app.post('/generations', generate(false));
    app.post('/generations/', generate(false));
    app.post('/generations/:id/extend', generate(true));

    app.get('/generations/:id', async (req, reply) => {
      if (await guard('luma-fetch', req, reply)) return reply;
      const g = generations.get((req.params as { id: string }).id);
      const v = g ? answer(g, view(g, opts.baseOf(req))) : null;
      return v ?? refuse(reply, 404, 'Not found');
    });
  }

  return {
    generations,
    routes,
    /** Rewrites every generation the simulator answers (submit and fetch); null for none. */
    set reshape(fn: ((g: View) => View) | null) {
      hooks.reshape = fn;
    },
    get reshape() {
      return hooks.reshape;
    },
  };
}

export type SimLuma = ReturnType<typeof createSimLuma>;

export default defineSimFamily<SimLuma>({
  name: 'luma',
  channelType: 'luma',
  basePath: '',
  create(ctx) {
    const luma = createSimLuma({ durationMs: ctx.options.lumaDurationMs ?? 8000, secret: ctx.options.lumaSecret ?? '', faults: ctx.faults, log: ctx.log, baseOf: ctx.baseOf });
    return {
      async register(app) {
        await app.register(async (scope) => luma.routes(scope), { prefix: '/luma' });
      },
      isWorkCall: (method, url) => method === 'POST' && url.startsWith('/luma/'),
      handle: luma,
    };
  },
});
