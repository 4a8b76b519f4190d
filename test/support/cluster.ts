import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { startApi, type RunningApi } from '../../api/main.js';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { startSim, type Sim, type SimOptions } from '../../sim/server.js';
import { groupExited, killGroup, runRole, type Proc } from './proc.js';
import { client, KEYS, waitFor, type Call } from './stack.js';

/**
 * relayq as it runs in production: an API, worker processes of their own (started the way
 * `npm run start:worker` starts them), and simulators as upstream channels named in an
 * UPSTREAMS_FILE. Simulators run in the test process, so tests can count, fault, kill and
 * restart them.
 */
export interface Cluster {
  call: Call;
  api: RunningApi;
  redis: Redis;
  prefix: string;
  /** The UPSTREAMS_FILE the processes read; `writeChannels` rewrites it (then `reload`). */
  file: string;
  workers: Proc[];
  sims: Record<string, Sim>;
  writeChannels(channels: object[]): void;
  /** SIGHUP to every worker, then waits until each has reloaded. */
  reload(): Promise<void>;
  /** Stops the simulator `name` (its port refuses connections from now on). */
  kill(name: string): Promise<void>;
  /** Starts the simulator `name` again on its old port. */
  revive(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(opts: {
  sims: string[];
  channels: (urls: Record<string, string>) => object[];
  workers?: number;
  env?: Record<string, string>;
  sim?: SimOptions;
}): Promise<Cluster> {
  const sims: Record<string, Sim> = {};
  const ports: Record<string, number> = {};
  for (const name of opts.sims) {
    sims[name] = await startSim({ mjDurationMs: 300, ...opts.sim });
    ports[name] = Number(new URL(sims[name].url).port);
  }
  const urls = Object.fromEntries(Object.entries(sims).map(([n, s]) => [n, s.url]));
  const file = join(mkdtempSync(join(tmpdir(), 'relayq-upstreams-')), 'upstreams.json');
  const writeChannels = (channels: object[]) => writeFileSync(file, JSON.stringify({ channels }, null, 2));
  writeChannels(opts.channels(urls));
  const prefix = `k${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = {
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: prefix,
    API_KEYS: `acme:${KEYS.acme}`,
    ADMIN_KEYS: KEYS.admin,
    UPSTREAMS_FILE: file,
    RETRY_BASE_DELAY_MS: '5',
    MJ_POLL_INTERVAL_MS: '50',
    UPSTREAM_POLL_INTERVAL_MS: '50',
    WORKER_LOCK_MS: '2000',
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '1000000',
    ...opts.env,
  };
  const api = await startApi(loadConfig({ ...env, PORT: '0', LOG_LEVEL: 'silent' }), createLogger('silent'));
  const workers: Proc[] = [];
  for (let i = 0; i < (opts.workers ?? 2); i++) workers.push(runRole('worker/main.ts', env));
  await Promise.all(workers.map((w) => w.waitForOutput(/workers started/, 30_000)));
  const redis = new Redis(env.REDIS_URL!);
  return {
    call: client(api.url),
    api,
    redis,
    prefix,
    file,
    workers,
    sims,
    writeChannels,
    async reload() {
      const before = workers.map((w) => (w.out().match(/channels reloaded/g) ?? []).length);
      for (const w of workers) process.kill(w.child.pid!, 'SIGHUP');
      await waitFor(async () => workers.every((w, i) => (w.out().match(/channels reloaded/g) ?? []).length > before[i]!), { what: 'every worker to reload' });
    },
    async kill(name) {
      await sims[name]!.close();
    },
    async revive(name) {
      sims[name] = await startSim({ mjDurationMs: 300, ...opts.sim, port: ports[name] });
    },
    async close() {
      for (const w of workers) killGroup(w, 'SIGTERM');
      await Promise.all(workers.map((w) => groupExited(w).catch(() => killGroup(w))));
      await api.stop();
      await Promise.all(Object.values(sims).map((s) => s.close().catch(() => undefined)));
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** Submits `n` chat completions with `Prefer: respond-async`, `parallel` at a time; returns their task ids. */
export async function submitChats(call: Call, n: number, opts: { parallel?: number; content?: (i: number) => string } = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += opts.parallel ?? 50) {
    const batch = Array.from({ length: Math.min(opts.parallel ?? 50, n - i) }, (_, j) =>
      call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: opts.content?.(i + j) ?? `job ${i + j}` }] }, headers: { prefer: 'respond-async' } }),
    );
    for (const r of await Promise.all(batch)) {
      if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${JSON.stringify(r.body)}`);
      ids.push(r.body.id);
    }
  }
  return ids;
}

/** Waits until none of the tenant's text tasks is unfinished; returns every one of `ids` as admins see it. */
export async function settle(c: Cluster, ids: string[], timeoutMs = 60_000): Promise<any[]> {
  await waitFor(async () => (await c.redis.zcard(`${c.prefix}:{text}:tenant:acme:active`)) === 0, { timeoutMs, intervalMs: 100, what: 'every task to finish' });
  const tasks: any[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    tasks.push(...(await Promise.all(ids.slice(i, i + 50).map(async (id) => (await c.call('GET', `/v1/tasks/${id}`, { key: KEYS.admin })).body))));
  }
  return tasks;
}

/** POSTs of work calls a simulator received (chat completions), with their times. */
export const workCalls = (sim: Sim) => sim.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions');
