import Fastify from 'fastify';
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
}

export interface SimRequest {
  method: string;
  path: string;
  at: number;
  ids?: number;
  body?: unknown;
}

export interface Sim {
  url: string;
  faults: Faults;
  mj: SimMj;
  /** Every request received, oldest first. */
  requests: SimRequest[];
  close(): Promise<void>;
}

/**
 * The upstream simulator: a Midjourney-proxy (under `/mj`, `/mj-fast/mj`, …) and an
 * OpenAI-compatible API (under `/v1`), with fault
 * injection, controllable in-process or over HTTP (`POST /_sim/faults`, `DELETE /_sim/faults`,
 * `GET /_sim/requests`).
 */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true });
  const faults = createFaults();
  const requests: SimRequest[] = [];
  const record = (e: Omit<SimRequest, 'at'>) => {
    requests.push({ ...e, at: Date.now() });
    if (requests.length > 10000) requests.splice(0, 5000);
  };
  const mj = createSimMj({
    durationMs: opts.mjDurationMs ?? 8000,
    secret: opts.mjSecret ?? '',
    faults,
    log: (e) => record(e),
  });
  for (const prefix of ['/mj', '/mj-fast/mj', '/mj-relax/mj', '/mj-turbo/mj']) await app.register(async (scope) => mj.routes(scope), { prefix });
  const openai = createSimOpenAi({ key: opts.openaiKey ?? '', faults, log: (e) => record({ ...e }) });
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
  app.get('/sim/*', async (_req, reply) => reply.type('image/png').send(Buffer.from('89504e470d0a1a0a', 'hex')));

  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${addr.port}`,
    faults,
    mj,
    requests,
    async close() {
      faults.releaseAll();
      await app.close();
    },
  };
}
