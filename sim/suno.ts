import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Faults } from './faults.js';
import { defineSimFamily } from './types.js';

declare module './types.js' {
  interface SimOptions {
    /** How long a Suno task takes from submit to SUCCESS (ms; default 8000). */
    sunoDurationMs?: number;
    /** Expected bearer key; empty accepts any. Each key is its own account either way. */
    sunoKey?: string;
  }
}

/**
 * A suno-api server (Suno-API/Suno-API, the upstream new-api's Suno channel targets), as its
 * clients see it: `POST /suno/submit/{music,lyrics}` (action in any case), the batch read
 * `POST /suno/fetch` `{ids}` and `GET /suno/fetch/{id}`, all in the `{code, message, data}`
 * envelope. A task's state is computed from the time since submit, so there are no timers:
 * SUBMITTED (first 10 %), QUEUED (to 30 %), IN_PROGRESS with `"NN%"` and clips `streaming` on a
 * stream URL, then SUCCESS with clips `complete` on mp3/mp4 URLs. Each bearer key is an account:
 * its tasks (and clips) are unknown to the others, as with two Suno accounts.
 *
 * Words in the request's text fields change one task's fate: `--sim-stuck` (never progresses),
 * `--sim-fail` (fails: clips `error` with `metadata.error_message`), `--sim-lost` (vanishes
 * halfway), `--sim-ms <n>` (its own duration), `--sim-odd` (answered in shapes real upstreams use:
 * suno-api's DB row with an integer `id`, no `progress`, `fail_reason` null, times and clip
 * durations as strings, statuses in Suno's lower-case clip vocabulary, `data` as JSON text),
 * `--sim-malformed` (until it finishes: a numeric status, unreadable progress and data, plus an
 * item without `task_id` in the batch), `--sim-signed` (media links carry an `X-Amz-Signature`
 * query that changes on every read, as presigned CDN links do; the image link exists from the start).
 */
type Fate = 'normal' | 'stuck' | 'fail' | 'lost';

export interface SimSunoTask {
  id: string;
  account: string;
  action: 'MUSIC' | 'LYRICS';
  /** The body as received, for assertions. */
  request: Record<string, unknown>;
  submitAt: number;
  durationMs: number;
  fate: Fate;
  odd: boolean;
  malformed: boolean;
  signed: boolean;
  clipIds: string[];
}

type View = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const ok = (data: unknown) => ({ code: 'success', message: '', data });
const refuse = (message: string, code = 'invalid_request') => ({ code, message, data: null });
const unix = (ms: number) => Math.floor(ms / 1000);

function fateOf(text: string) {
  const ms = /--sim-ms\s+(\d+)/.exec(text);
  const fate: Fate = /--sim-stuck/.test(text) ? 'stuck' : /--sim-fail/.test(text) ? 'fail' : /--sim-lost/.test(text) ? 'lost' : 'normal';
  return { fate, ms: ms ? Number(ms[1]) : null, odd: text.includes('--sim-odd'), malformed: text.includes('--sim-malformed'), signed: text.includes('--sim-signed') };
}

export function createSimSuno(opts: { durationMs: number; key: string; faults: Faults; log: (e: { method: string; path: string; ids?: number; body?: unknown }) => void; baseOf: (req: FastifyRequest) => string }) {
  const tasks = new Map<string, SimSunoTask>();
  let rowId = 1000;

  /** The phase of a task at `now`: its status, clip state and progress; null when it is lost. */
  function phase(t: SimSunoTask, now: number) {
    const elapsed = now - t.submitAt;
    if (t.fate === 'lost' && elapsed > t.durationMs / 2) return null;
    if (t.fate === 'stuck' || elapsed < t.durationMs * 0.1) return { status: 'SUBMITTED', clip: 'submitted', pct: 0 };
    if (elapsed < t.durationMs * 0.3) return { status: 'QUEUED', clip: 'queued', pct: 0 };
    if (elapsed < t.durationMs) return { status: 'IN_PROGRESS', clip: 'streaming', pct: Math.min(99, Math.floor((elapsed / t.durationMs) * 100)) };
    return t.fate === 'fail' ? { status: 'FAILURE', clip: 'error', pct: 100 } : { status: 'SUCCESS', clip: 'complete', pct: 100 };
  }

  function clip(t: SimSunoTask, id: string, state: string, base: string): View {
    const done = state === 'complete';
    const failed = state === 'error';
    const duration = done ? 151.42 : null;
    const sign = (url: string) => (t.signed && url ? `${url}?X-Amz-Signature=${randomUUID()}` : url);
    return {
      id,
      title: str(t.request.title) || 'Simulated Song',
      status: state,
      audio_url: failed ? '' : done ? `${base}/sim/suno/${id}.mp3` : state === 'streaming' ? `${base}/sim/suno/stream?item_id=${id}` : '',
      video_url: done ? `${base}/sim/suno/${id}.mp4` : '',
      image_url: state === 'submitted' && !t.signed ? '' : sign(`${base}/sim/suno/image_${id}.jpeg`),
      image_large_url: state === 'submitted' ? '' : `${base}/sim/suno/image_large_${id}.jpeg`,
      is_video_pending: !done,
      model_name: 'chirp-v3',
      major_model_version: str(t.request.mv) || 'chirp-v3-0',
      created_at: new Date(t.submitAt).toISOString(),
      metadata: {
        tags: str(t.request.tags),
        prompt: str(t.request.prompt),
        gpt_description_prompt: str(t.request.gpt_description_prompt) || null,
        type: 'gen',
        history: t.request.continue_clip_id ? [{ id: t.request.continue_clip_id, continue_at: t.request.continue_at ?? null }] : null,
        duration: t.odd && duration !== null ? String(duration) : duration,
        error_type: failed ? 'moderation_failure' : null,
        error_message: failed ? 'Sorry, this song could not be generated: the lyrics break our terms of service' : null,
      },
    };
  }

  /** A task as `POST /suno/fetch` reports it at `now`; null when it is lost. */
  function view(t: SimSunoTask, base: string, now = Date.now()): View | null {
    const ph = phase(t, now);
    if (!ph) return null;
    const end = t.submitAt + t.durationMs;
    const finished = ph.status === 'SUCCESS' || ph.status === 'FAILURE';
    if (t.malformed && !finished) return { task_id: t.id, action: t.action, status: 42, progress: 'lots', fail_reason: { why: 'unknown' }, submit_time: 'yesterday', data: '{not json' };
    const data =
      t.action === 'LYRICS'
        ? { id: t.id, status: finished ? 'complete' : 'running', title: finished ? 'Simulated Lyrics' : '', text: finished ? `[Verse]\n${str(t.request.prompt)}\n[Chorus]\nla la la` : '' }
        : t.clipIds.map((id) => clip(t, id, ph.clip, base));
    const failReason = ph.status === 'FAILURE' ? ((data as View[])[0]?.metadata as View).error_message : '';
    const item: View = {
      task_id: t.id,
      action: t.action,
      status: ph.status,
      fail_reason: failReason,
      submit_time: unix(t.submitAt),
      start_time: ph.status === 'IN_PROGRESS' || finished ? unix(t.submitAt + t.durationMs * 0.3) : 0,
      finish_time: finished ? unix(end) : 0,
      progress: `${ph.pct}%`,
      data,
    };
    if (!t.odd) return item;
    const { progress: _progress, ...row } = item;
    const odd: Record<string, string> = { SUBMITTED: 'submitted', QUEUED: 'queued', IN_PROGRESS: 'streaming', SUCCESS: 'complete', FAILURE: 'error' };
    return {
      id: rowId++,
      created_at: new Date(t.submitAt).toISOString(),
      updated_at: new Date(now).toISOString(),
      ...row,
      status: odd[ph.status],
      fail_reason: failReason || null,
      submit_time: String(row.submit_time),
      start_time: String(row.start_time),
      finish_time: String(row.finish_time),
      search_item: '',
      data: JSON.stringify(data),
    };
  }

  const accountOf = (req: FastifyRequest) => /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1]?.trim() ?? '';

  async function guard(route: string, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const ids = (req.body as { ids?: unknown } | null)?.ids;
    opts.log({ method: req.method, path: req.url, ids: Array.isArray(ids) ? ids.length : undefined, body: req.body ?? undefined });
    if (opts.key && accountOf(req) !== opts.key) {
      await reply.status(401).send(refuse('unauthorized', 'invalid_request'));
      return true;
    }
    return opts.faults.apply(route, req, reply);
  }

  function submit(b: Record<string, unknown>, action: 'MUSIC' | 'LYRICS', account: string, reply: FastifyReply) {
    if (action === 'LYRICS' && !str(b.prompt)) return reply.status(400).send(refuse('prompt is empty'));
    const extendOf = str(b.continue_clip_id);
    if (extendOf) {
      // suno-api's own check, then what Suno itself says for a clip of another account.
      if (!str(b.task_id)) return reply.status(400).send(refuse('task_id is empty'));
      const parent = tasks.get(str(b.task_id));
      if (!parent || parent.account !== account || !parent.clipIds.includes(extendOf)) return reply.status(400).send(refuse('task not exist'));
    }
    const { fate, ms, odd, malformed, signed } = fateOf([b.prompt, b.gpt_description_prompt, b.tags, b.title].map(str).join(' '));
    const id = action === 'MUSIC' ? randomUUID().replace(/-/g, '') : randomUUID();
    const clipIds = action === 'MUSIC' ? [randomUUID(), randomUUID()] : [];
    tasks.set(id, { id, account, action, request: b, submitAt: Date.now(), durationMs: ms ?? opts.durationMs, fate, odd, malformed, signed, clipIds });
    return ok(id);
  }

  function routes(app: FastifyInstance) {
    app.post('/suno/submit/:action', async (req, reply) => {
      if (await guard('suno-submit', req, reply)) return reply;
      const action = str((req.params as { action: string }).action).toUpperCase();
      if (action !== 'MUSIC' && action !== 'LYRICS') return reply.status(400).send(refuse('invalid action'));
      return submit((req.body ?? {}) as Record<string, unknown>, action, accountOf(req), reply);
    });

    app.post('/suno/fetch', async (req, reply) => {
      if (await guard('suno-fetch', req, reply)) return reply;
      const ids = ((req.body ?? {}) as { ids?: unknown[] }).ids ?? [];
      const account = accountOf(req);
      const found = ids.flatMap((id) => {
        const t = tasks.get(String(id));
        const v = t && t.account === account ? view(t, opts.baseOf(req)) : null;
        return v ? [v] : [];
      });
      // A malformed task brings a neighbour without a task_id along.
      const junk = found.some((v) => v.status === 42) ? [{ id: rowId++, status: 'SUCCESS', data: [] }] : [];
      return ok([...found, ...junk]);
    });

    app.get('/suno/fetch/:id', async (req, reply) => {
      if (await guard('suno-fetch', req, reply)) return reply;
      const t = tasks.get((req.params as { id: string }).id);
      const v = t && t.account === accountOf(req) ? view(t, opts.baseOf(req)) : null;
      return v ? ok(v) : reply.status(400).send(refuse('task not exist'));
    });
  }

  return { tasks, routes };
}

export type SimSuno = ReturnType<typeof createSimSuno>;

export default defineSimFamily<SimSuno>({
  name: 'suno',
  channelType: 'suno',
  basePath: '',
  create(ctx) {
    const suno = createSimSuno({ durationMs: ctx.options.sunoDurationMs ?? 8000, key: ctx.options.sunoKey ?? '', faults: ctx.faults, log: ctx.log, baseOf: ctx.baseOf });
    return {
      register: async (app) => suno.routes(app),
      isWorkCall: (method, url) => method === 'POST' && url.startsWith('/suno/submit/'),
      handle: suno,
    };
  },
});
