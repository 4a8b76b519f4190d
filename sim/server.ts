import Fastify, { type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { createFaults, type Faults, type FaultRule } from './faults.js';
import { createSimMj, type SimMj } from './mj.js';
import { createSimOpenAi } from './openai.js';

export interface SimOptions {
  host?: string;
  port?: number;
  /** How long an MJ task takes from submit to SUCCESS. */
  mjDurationMs?: number;
  /** Expected `mj-api-secret`; empty accepts any. */
  mjSecret?: string;
  /** Expected OpenAI bearer key; empty accepts any. */
  openaiKey?: string;
  /** Base of the image URLs it answers (SIM_PUBLIC_URL); empty or unset: the address each request came to. */
  publicUrl?: string;
}

/**
 * One request the simulator received, logged once as it arrived: `body` is the parsed JSON of an
 * OpenAI-style call, or its parts (SimForm) for a multipart one; `ids` the number of ids of an MJ
 * list-by-condition.
 */
export interface SimRequest {
  method: string;
  path: string;
  /** Epoch ms. */
  at: number;
  ids?: number;
  body?: unknown;
}

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
  mj: SimMj;
  /** Every request received, oldest first (the newest 10,000 at most). */
  requests: SimRequest[];
  /** Empties `requests` (in place: references to it stay valid), as `DELETE /_sim/requests` does. */
  clearRequests(): void;
  close(): Promise<void>;
}

/**
 * The upstream simulator: a Midjourney-proxy (under `/mj`, `/mj-fast/mj`, …) and an
 * OpenAI-compatible API (under `/v1`), with fault
 * injection, controllable in-process or over HTTP (`POST /_sim/faults`, `DELETE /_sim/faults`,
 * `GET /_sim/requests`, `DELETE /_sim/requests`).
 */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true });
  const faults = createFaults();
  // Work calls in flight at once: what a channel's concurrency limit must hold across workers.
  const load: SimLoad = { inFlight: 0, maxInFlight: 0 };
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST' || !/^\/(v1\/|mj(-[a-z]+\/mj)?\/(submit|insight-face))/.test(req.url)) return;
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
  const mj = createSimMj({
    durationMs: opts.mjDurationMs ?? 8000,
    secret: opts.mjSecret ?? '',
    faults,
    log: (e) => record(e),
    baseOf,
  });
  for (const prefix of ['/mj', '/mj-fast/mj', '/mj-relax/mj', '/mj-turbo/mj']) await app.register(async (scope) => mj.routes(scope), { prefix });
  const openai = createSimOpenAi({ key: opts.openaiKey ?? '', faults, log: (e) => record({ ...e }), baseOf });
  await app.register(async (scope) => openai.routes(scope), { prefix: '/v1' });
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
  app.get('/sim/*', async (_req, reply) => reply.type('image/png').send(Buffer.from('89504e470d0a1a0a', 'hex')));

  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${addr.port}`,
    faults,
    load,
    resetLoad() {
      load.maxInFlight = load.inFlight;
    },
    mj,
    requests,
    clearRequests,
    async close() {
      faults.releaseAll();
      await app.close();
    },
  };
}
