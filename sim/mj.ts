import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classifyCustomId, describeButtons, gridButtons, shortenButtons, upscaleButtons } from '../shared/families/mj/buttons.js';
import type { MjButton } from '../shared/families/mj/task.js';
import type { FaultRoute, Faults } from './faults.js';
import { defineSimFamily } from './types.js';

declare module './types.js' {
  interface SimOptions {
    /** How long an MJ task takes from submit to SUCCESS (ms; default 8000). */
    mjDurationMs?: number;
    /** Expected `mj-api-secret`; empty accepts any. */
    mjSecret?: string;
  }
}

/**
 * A Midjourney-proxy as its clients see it. A task's state is computed from the time since it
 * was submitted, so there are no timers: SUBMITTED (first 10 %), IN_PROGRESS with "NN%" and a
 * preview URL, then SUCCESS with real button ids. Prompt flags change one task's fate:
 * `--sim-stuck` (never progresses), `--sim-fail` (fails), `--sim-lost` (vanishes halfway),
 * `--sim-ms <n>` (its own duration), `--sim-odd` (answered in the odd field types real proxies
 * send: numeric `id`, `result` and `progress`, buttons without `type`/`style`, `""` and null for
 * absent values). `reshape`, set in-process, rewrites every task object it answers.
 */
type Fate = 'normal' | 'stuck' | 'fail' | 'lost';
type ResultKind = 'grid' | 'upscale' | 'describe' | 'shorten' | 'none';

export interface SimMjTask {
  id: string;
  action: string;
  prompt: string;
  mode: string | null;
  submitTime: number;
  /** When work started: submit time, or the modal confirmation for MODAL tasks. */
  startAt: number | null;
  durationMs: number;
  fate: Fate;
  result: ResultKind;
  hash: string;
  canceled: boolean;
  parentId: string | null;
  /** What the request carried, for assertions. */
  request: Record<string, unknown>;
}

export interface SimMjOptions {
  durationMs: number;
  secret: string;
  faults: Faults;
  log: (entry: { method: string; path: string; ids?: number }) => void;
  /** The base of the image URLs answered to this request (no trailing slash). */
  baseOf: (req: FastifyRequest) => string;
}

// A numeric id as midjourney-proxy makes them (a time in ms and three more digits), unique within
// one simulator: the digits count up within a millisecond instead of being random (random ones
// collided at a few hundred submits a second).
let lastMs = 0;
let seq = 0;
const numericId = () => {
  const now = Date.now();
  if (now > lastMs) [lastMs, seq] = [now, 0];
  else if (++seq > 999) [lastMs, seq] = [lastMs + 1, 0];
  return `${lastMs}${seq.toString().padStart(3, '0')}`;
};

function fateOf(prompt: string): { fate: Fate; ms: number | null } {
  const ms = /--sim-ms\s+(\d+)/.exec(prompt);
  const fate: Fate = /--sim-stuck/.test(prompt) ? 'stuck' : /--sim-fail/.test(prompt) ? 'fail' : /--sim-lost/.test(prompt) ? 'lost' : 'normal';
  return { fate, ms: ms ? Number(ms[1]) : null };
}

function buttonsOf(t: SimMjTask): MjButton[] {
  switch (t.result) {
    case 'grid':
      return gridButtons(t.hash);
    case 'upscale':
      return upscaleButtons(t.hash);
    case 'describe':
      return describeButtons();
    case 'shorten':
      return shortenButtons();
    case 'none':
      return [];
  }
}

function finalPrompt(t: SimMjTask): string | undefined {
  if (t.result === 'describe') return [1, 2, 3, 4].map((n) => `${['1️⃣', '2️⃣', '3️⃣', '4️⃣'][n - 1]} a simulated description number ${n} --ar 1:1`).join('\n\n');
  if (t.result === 'shorten') return `## Important tokens\n${t.prompt}\n\n## Shortened prompts\n1️⃣ ${t.prompt.split(' ').slice(0, 3).join(' ')}`;
  return t.prompt || undefined;
}

type TaskView = Record<string, unknown>;

/** A task object in the field types some proxies use (numbers, missing button fields, blanks). */
function oddly(v: TaskView): TaskView {
  const progress = Number.parseInt(String(v.progress), 10);
  return {
    ...v,
    id: Number(v.id),
    progress: Number.isNaN(progress) ? null : progress,
    imageUrl: v.imageUrl ?? '',
    failReason: v.failReason ?? '',
    buttons: (v.buttons as { customId: string; label: string; emoji: string }[]).map((b) => ({ customId: b.customId, label: b.label, emoji: b.emoji || null })),
    properties: Object.keys(v.properties as object).length ? v.properties : null,
  };
}

export function createSimMj(opts: SimMjOptions) {
  const tasks = new Map<string, SimMjTask>();
  const hooks: { reshape: ((task: TaskView) => TaskView) | null } = { reshape: null };

  /** The task object as answered: odd field types for `--sim-odd`, then the `reshape` hook. */
  function answer(t: SimMjTask, v: TaskView | null): TaskView | null {
    if (!v) return null;
    const shaped = t.prompt.includes('--sim-odd') ? oddly(v) : v;
    return hooks.reshape ? hooks.reshape(shaped) : shaped;
  }

  /** The task object as midjourney-proxy shows it at `now`; null when it is "lost". */
  function view(t: SimMjTask, base: string, now = Date.now()) {
    const common = { id: t.id, action: t.action, prompt: t.prompt, promptEn: t.prompt, description: `/${t.action.toLowerCase()} ${t.prompt}`.trim(), state: null, submitTime: t.submitTime };
    if (t.startAt === null) return { ...common, status: 'MODAL', progress: '0%', startTime: null, finishTime: null, imageUrl: null, failReason: null, buttons: [], properties: {} };
    const elapsed = now - t.startAt;
    const end = t.startAt + t.durationMs;
    if (t.canceled) return { ...common, status: 'FAILURE', progress: '', startTime: t.startAt, finishTime: now, imageUrl: null, failReason: 'canceled', buttons: [], properties: {} };
    if (t.fate === 'lost' && elapsed > t.durationMs / 2) return null;
    if (t.fate === 'stuck' || elapsed < t.durationMs * 0.1)
      return { ...common, status: 'SUBMITTED', progress: '0%', startTime: t.startAt, finishTime: null, imageUrl: null, failReason: null, buttons: [], properties: {} };
    if (elapsed < t.durationMs) {
      const pct = Math.min(99, Math.floor((elapsed / t.durationMs) * 100));
      return { ...common, status: 'IN_PROGRESS', progress: `${pct}%`, startTime: t.startAt, finishTime: null, imageUrl: `${base}/sim/preview/${t.hash}-${pct}.webp`, failReason: null, buttons: [], properties: {} };
    }
    if (t.fate === 'fail') return { ...common, status: 'FAILURE', progress: '', startTime: t.startAt, finishTime: end, imageUrl: null, failReason: '[Invalid parameter] Invalid value', buttons: [], properties: {} };
    const fp = finalPrompt(t);
    return {
      ...common,
      status: 'SUCCESS',
      progress: '100%',
      startTime: t.startAt,
      finishTime: end,
      imageUrl: t.result === 'describe' || t.result === 'shorten' ? null : `${base}/sim/image/${t.hash}.png`,
      failReason: null,
      buttons: buttonsOf(t),
      properties: { ...(fp ? { finalPrompt: fp } : {}), messageHash: t.hash },
    };
  }

  function create(action: string, prompt: string, result: ResultKind, mode: string | null, request: Record<string, unknown>, parentId: string | null = null, modal = false): SimMjTask {
    const { fate, ms } = fateOf(prompt);
    const now = Date.now();
    const t: SimMjTask = { id: numericId(), action, prompt, mode, submitTime: now, startAt: modal ? null : now, durationMs: ms ?? opts.durationMs, fate, result, hash: randomUUID(), canceled: false, parentId, request };
    tasks.set(t.id, t);
    return t;
  }

  const ok = (t: SimMjTask) => ({ code: 1, description: 'Submit success', result: t.prompt.includes('--sim-odd') ? Number(t.id) : t.id, properties: { discordInstanceId: 'sim-1' } });
  const refuse = (code: number, description: string) => ({ code, description, result: null, properties: {} });

  async function guard(route: FaultRoute, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    opts.log({ method: req.method, path: req.url, ids: Array.isArray((req.body as { ids?: unknown })?.ids) ? (req.body as { ids: unknown[] }).ids.length : undefined });
    if (opts.secret && req.headers['mj-api-secret'] !== opts.secret) {
      await reply.status(401).send();
      return true;
    }
    return opts.faults.apply(route, req, reply);
  }

  const modeOf = (req: FastifyRequest) => /^\/mj-(fast|relax|turbo)\//.exec(req.url)?.[1]?.toUpperCase() ?? null;
  const base = opts.baseOf;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');

  function routes(app: FastifyInstance) {
    const submit = (path: string, handler: (body: Record<string, unknown>, req: FastifyRequest, reply: FastifyReply) => unknown) =>
      app.post(path, async (req, reply) => ((await guard('submit', req, reply)) ? reply : handler((req.body ?? {}) as Record<string, unknown>, req, reply)));

    submit('/submit/imagine', (b, req) => (str(b.prompt).trim() ? ok(create('IMAGINE', str(b.prompt), 'grid', modeOf(req), b)) : refuse(4, 'prompt is required')));
    submit('/submit/blend', (b, req) => {
      const n = Array.isArray(b.base64Array) ? b.base64Array.length : 0;
      return n >= 2 && n <= 5 ? ok(create('BLEND', '', 'grid', modeOf(req), b)) : refuse(4, 'base64List parameter error');
    });
    submit('/submit/describe', (b, req) => (b.base64 || b.link ? ok(create('DESCRIBE', '', 'describe', modeOf(req), b)) : refuse(4, 'base64 is required')));
    submit('/submit/shorten', (b, req) => (str(b.prompt) ? ok(create('SHORTEN', str(b.prompt), 'shorten', modeOf(req), b)) : refuse(4, 'prompt is required')));
    submit('/insight-face/swap', (b, req) => ((b.sourceBase64 || b.sourceUrl) && (b.targetBase64 || b.targetUrl) ? ok(create('SWAP_FACE', '', 'none', modeOf(req), b)) : refuse(4, 'images are required')));

    submit('/submit/action', (b, req, reply) => {
      const parent = tasks.get(str(b.taskId));
      if (!parent) return reply.status(404).send(refuse(3, 'parent task not found'));
      const pv = view(parent, base(req));
      if (pv?.status !== 'SUCCESS') return refuse(4, 'parent task status error');
      const customId = str(b.customId);
      if (!buttonsOf(parent).some((btn) => btn.customId === customId)) return refuse(4, 'unknown customId');
      const meaning = classifyCustomId(customId)!;
      const result: ResultKind = meaning.action === 'UPSCALE' ? 'upscale' : meaning.action === 'DESCRIBE' ? 'describe' : 'grid';
      const t = create(meaning.action, parent.prompt, result, modeOf(req), b, parent.id, meaning.modal);
      if (meaning.modal) return { code: 21, description: 'Waiting for window confirm', result: t.id, properties: { finalPrompt: parent.prompt, remix: true } };
      return ok(t);
    });

    submit('/submit/modal', (b, _req, reply) => {
      const t = tasks.get(str(b.taskId));
      if (!t) return reply.status(404).send(refuse(3, 'task not found'));
      if (t.startAt !== null) return refuse(4, 'task is not in MODAL');
      t.request = { ...t.request, modal: b };
      if (typeof b.prompt === 'string' && b.prompt) {
        t.prompt = b.prompt;
        const { fate, ms } = fateOf(b.prompt);
        t.fate = fate;
        if (ms !== null) t.durationMs = ms;
      }
      t.startAt = Date.now();
      return ok(t);
    });

    app.get('/task/:id/fetch', async (req, reply) => {
      if (await guard('fetch', req, reply)) return reply;
      const t = tasks.get((req.params as { id: string }).id);
      const v = t ? answer(t, view(t, base(req))) : null;
      return v ?? reply.status(404).send(refuse(3, 'task not found'));
    });

    app.post('/task/list-by-condition', async (req, reply) => {
      if (await guard('list', req, reply)) return reply;
      const ids = ((req.body ?? {}) as { ids?: unknown[] }).ids ?? [];
      return ids.flatMap((id) => {
        const t = tasks.get(String(id));
        const v = t ? answer(t, view(t, base(req))) : null;
        return v ? [v] : [];
      });
    });

    app.get('/task/:id/image-seed', async (req, reply) => {
      if (await guard('seed', req, reply)) return reply;
      const t = tasks.get((req.params as { id: string }).id);
      if (!t) return reply.status(404).send(refuse(3, 'task not found'));
      if (view(t, base(req))?.status !== 'SUCCESS') return refuse(4, 'task has no image');
      const seed = BigInt(`0x${createHash('sha256').update(t.id).digest('hex').slice(0, 8)}`).toString();
      return { code: 1, description: 'Success', result: seed, properties: {} };
    });

    app.post('/task/:id/cancel', async (req, reply) => {
      if (await guard('cancel', req, reply)) return reply;
      const t = tasks.get((req.params as { id: string }).id);
      if (!t) return reply.status(404).send(refuse(3, 'task not found'));
      t.canceled = true;
      return ok(t);
    });
  }

  return {
    tasks,
    routes,
    /** Rewrites every task object the simulator answers (fetch, list-by-condition); null for none. */
    set reshape(fn: ((task: TaskView) => TaskView) | null) {
      hooks.reshape = fn;
    },
    get reshape() {
      return hooks.reshape;
    },
  };
}

export type SimMj = ReturnType<typeof createSimMj>;

/** Routes are registered under each path prefix midjourney-proxy deployments use for their modes. */
const PREFIXES = ['/mj', '/mj-fast/mj', '/mj-relax/mj', '/mj-turbo/mj'];

export default defineSimFamily<SimMj>({
  name: 'mj',
  channelType: 'mj',
  basePath: '',
  create(ctx) {
    const mj = createSimMj({ durationMs: ctx.options.mjDurationMs ?? 8000, secret: ctx.options.mjSecret ?? '', faults: ctx.faults, log: ctx.log, baseOf: ctx.baseOf });
    return {
      async register(app) {
        for (const prefix of PREFIXES) await app.register(async (scope) => mj.routes(scope), { prefix });
      },
      isWorkCall: (method, url) => method === 'POST' && /^\/mj(-[a-z]+\/mj)?\/(submit|insight-face)/.test(url),
      handle: mj,
    };
  },
});
