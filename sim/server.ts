import Fastify, { type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { FAMILIES } from '../shared/families/catalog.js';
import { createFaults, type Faults, type FaultRule } from './faults.js';
import type { SimFamily, SimOptions, SimRequest } from './types.js';

export type { SimOptions, SimRequest } from './types.js';

/** Calls in flight (work calls: POST under /v1 and /mj/submit), now and at most so far. */
export interface SimLoad {
  inFlight: number;
  maxInFlight: number;
}

export interface Sim {
  url: string;
  faults: Faults;
  /** Concurrent work calls seen (GET /_sim/stats too); `resetLoad` starts a new count. */
  load: SimLoad;
  resetLoad(): void;
  /** Each family simulator's in-process handle, by family name (see test/support for typed access). */
  handles: Record<string, unknown>;
  /** A channel `baseUrl` of this type pointing at this simulator; null for a type it does not play. */
  baseUrlFor(channelType: string): string | null;
  /** Every request received, oldest first (the newest 10,000 at most). */
  requests: SimRequest[];
  /** Makes every media URL (`/sim/...`) answer 404 (true) or its bytes again (false), as `POST /_sim/media {"gone":true}` does. */
  setMediaGone(gone: boolean): void;
  /** Makes every media URL answer only after this long (0: at once), as `POST /_sim/media {"delayMs":n}` does. */
  setMediaDelay(ms: number): void;
  /** Empties `requests` (in place: references to it stay valid), as `DELETE /_sim/requests` does. */
  clearRequests(): void;
  close(): Promise<void>;
}

const MEDIA_TYPES: Record<string, string> = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg', jpg: 'image/jpeg', mp3: 'audio/mpeg', mp4: 'video/mp4' };
const mediaType = (url: string) => MEDIA_TYPES[/\.([a-z0-9]+)(\?|$)/i.exec(url)?.[1]?.toLowerCase() ?? ''] ?? 'image/png';

/**
 * The bytes the simulator serves at a media path: a PNG signature for images (as before), and for
 * audio and video 64 KiB derived from the path, so a copy can be checked byte for byte.
 */
export function simMediaBytes(path: string): Buffer {
  const type = mediaType(path);
  if (type.startsWith('image/')) return Buffer.from('89504e470d0a1a0a', 'hex');
  const seed = [...path].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  return Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (seed + i * 131) % 256));
}

/** The simulator of every family in the catalog (`./<name>.ts`); throws when one is missing. */
async function loadSimFamilies(): Promise<SimFamily[]> {
  const out: SimFamily[] = [];
  for (const family of FAMILIES) {
    const url = new URL(`./${family.name}.js`, import.meta.url).href;
    const mod = (await import(/* @vite-ignore */ url).catch((err: unknown) => {
      throw new Error(`family ${family.name} has no simulator (sim/${family.name}.ts): ${(err as Error).message}`, { cause: err });
    })) as { default?: SimFamily };
    if (mod.default?.name !== family.name) throw new Error(`sim/${family.name}.ts must export default the simulator of ${family.name}`);
    out.push(mod.default);
  }
  return out;
}

/**
 * The upstream simulator: every family's upstream protocol on one server (a Midjourney-proxy under
 * `/mj`, an OpenAI-compatible API under `/v1`, …), with fault injection, controllable in-process or
 * over HTTP (`POST /_sim/faults`, `DELETE /_sim/faults`, `GET /_sim/requests`,
 * `DELETE /_sim/requests`, `GET /_sim/stats`).
 */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true });
  const faults = createFaults();
  const families = await loadSimFamilies();
  const made: { family: SimFamily; parts: ReturnType<SimFamily['create']> }[] = [];
  // Work calls in flight at once: what a channel's concurrency limit must hold across workers.
  const load: SimLoad = { inFlight: 0, maxInFlight: 0 };
  app.addHook('onRequest', async (req, reply) => {
    if (!made.some((m) => m.parts.isWorkCall(req.method, req.url))) return;
    load.inFlight++;
    load.maxInFlight = Math.max(load.maxInFlight, load.inFlight);
    let done = false;
    const end = () => {
      if (!done) load.inFlight--;
      done = true;
    };
    reply.raw.once('close', end);
    reply.raw.once('finish', end);
  });
  const requests: SimRequest[] = [];
  const record = (e: Omit<SimRequest, 'at'>) => {
    requests.push({ ...e, at: Date.now() });
    if (requests.length > 10000) requests.splice(0, 5000);
  };
  const publicUrl = opts.publicUrl?.replace(/\/+$/, '') || null;
  const baseOf = (req: FastifyRequest) => publicUrl ?? `${req.protocol}://${req.host}`;
  for (const family of families) made.push({ family, parts: family.create({ options: opts, faults, log: record, baseOf }) });
  for (const m of made) await m.parts.register(app);
  app.post('/_sim/faults', async (req) => {
    faults.add(req.body as FaultRule);
    return { rules: faults.rules };
  });
  app.delete('/_sim/faults', async () => {
    faults.clear();
    return { rules: [] };
  });
  app.get('/_sim/requests', async () => requests);
  const clearRequests = () => void requests.splice(0);
  app.delete('/_sim/requests', async () => {
    clearRequests();
    return { requests: [] };
  });
  app.get('/_sim/stats', async () => load);
  // The media every family's answers point at: bytes of the URL's type, or 404 once they are "gone"
  // (upstreams keep results only for a while: what ARCHIVE_OUTPUTS is for).
  const media = { gone: false, delayMs: 0 };
  app.get('/sim/*', async (req, reply) => {
    if (media.delayMs > 0) await new Promise((r) => setTimeout(r, media.delayMs));
    if (media.gone) return reply.status(404).send({ error: 'media expired' });
    return reply.type(mediaType(req.url)).send(simMediaBytes(req.url.split('?')[0]!));
  });
  app.post('/_sim/media', async (req) => {
    const body = (req.body ?? {}) as { gone?: unknown; delayMs?: unknown };
    media.gone = body.gone === true;
    media.delayMs = typeof body.delayMs === 'number' && body.delayMs > 0 ? body.delayMs : 0;
    return media;
  });

  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${addr.port}`;
  return {
    url,
    faults,
    load,
    resetLoad() {
      load.maxInFlight = load.inFlight;
    },
    handles: Object.fromEntries(made.map((m) => [m.family.name, m.parts.handle])),
    baseUrlFor(channelType) {
      const m = made.find((x) => x.family.channelType === channelType);
      return m ? `${url}${m.family.basePath}` : null;
    },
    requests,
    setMediaGone: (gone) => void (media.gone = gone),
    setMediaDelay: (ms) => void (media.delayMs = ms),
    clearRequests,
    async close() {
      faults.releaseAll();
      await app.close();
    },
  };
}
