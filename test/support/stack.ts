import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { startApi, type RunningApi } from '../../api/main.js';
import { CHANNEL_TYPES, defaultChannel } from '../../shared/channels/config.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import type { SimMj } from '../../sim/mj.js';
import { startSim, type Sim, type SimOptions } from '../../sim/server.js';
import { startWorker } from '../../worker/main.js';

export const KEYS = { acme: 'sk-acme-0123456789', beta: 'sk-beta-0123456789', admin: 'sk-admin-0123456789' };

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export type Call = <T = any>(method: string, path: string, opts?: { key?: string | null; body?: unknown; headers?: Record<string, string> }) => Promise<Reply<T>>;

/** A small HTTP client for tests: JSON in and out, the acme key unless told otherwise. */
export function client(baseUrl: string): Call {
  return async (method, path, opts = {}) => {
    const key = opts.key === undefined ? KEYS.acme : opts.key;
    const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // leave as text
    }
    return { status: res.status, body: body as never, headers: res.headers };
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (no sleep-then-assert). */
export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
  throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
}

/** The simulated Midjourney-proxy's in-process handle (its tasks, the `reshape` hook). */
export const simMj = (sim: Sim): SimMj => sim.handles.mj as SimMj;

export interface Stack {
  config: Config;
  api: RunningApi;
  sim: Sim;
  call: Call;
  /** A plain Redis connection to inspect keys. */
  redis: Redis;
  startWorker(): Promise<() => Promise<void>>;
  stopWorkers(): Promise<void>;
  /** Keys under this stack's prefix. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Collects every log line (pino JSON, level info and up) of the API and workers here. */
  logLines?: string[];
  worker?: boolean;
  sim?: SimOptions;
  redisUrl?: string;
}

/** Simulator, API and (by default) one worker, on a key prefix of their own. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sim = await startSim({ mjDurationMs: 400, openaiKey: 'sk-upstream-0123456789', ...opts.sim });
  const redisUrl = opts.redisUrl ?? inject('redisUrl');
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const config = loadConfig({
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    API_KEYS: `acme:${KEYS.acme},beta:${KEYS.beta}`,
    ADMIN_KEYS: KEYS.admin,
    MJ_UPSTREAM_URL: sim.url,
    OPENAI_UPSTREAM_URL: `${sim.url}/v1`,
    OPENAI_UPSTREAM_KEY: 'sk-upstream-0123456789',
    PORT: '0',
    LOG_LEVEL: 'silent',
    MJ_POLL_INTERVAL_MS: '50',
    UPSTREAM_POLL_INTERVAL_MS: '50',
    RETRY_BASE_DELAY_MS: '5',
    SHUTDOWN_GRACE_SECONDS: '2',
    ...opts.env,
  });
  // Every other channel type is played by the simulator too, unless the test names its channels.
  if (!opts.env?.UPSTREAMS_FILE) {
    for (const type of CHANNEL_TYPES) {
      const baseUrl = sim.baseUrlFor(type);
      if (baseUrl && !config.channels.some((c) => c.type === type)) config.channels.push(defaultChannel({ name: `sim-${type}`, type, baseUrl, key: '' }));
    }
  }
  const lines = opts.logLines;
  const log = lines ? createLogger('info', { write: (line: string) => void lines.push(line) }) : createLogger(config.LOG_LEVEL);
  const api = await startApi(config, log);
  const workers: (() => Promise<void>)[] = [];
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const stack: Stack = {
    config,
    api,
    sim,
    call: client(api.url),
    redis,
    async startWorker() {
      const { stop } = await startWorker(config, log);
      workers.push(stop);
      return stop;
    },
    async stopWorkers() {
      await Promise.all(workers.splice(0).map((s) => s()));
    },
    async keys() {
      return redis.keys(`${prefix}:*`);
    },
    async close() {
      await stack.stopWorkers();
      await api.stop();
      await sim.close();
      const keys = await redis.keys(`${prefix}:*`).catch(() => []);
      if (keys.length) await redis.del(...keys).catch(() => undefined);
      redis.disconnect();
    },
  };
  if (opts.worker !== false) await stack.startWorker();
  return stack;
}

export const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
export const PNG2 = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** Fetches an MJ task until its status is one of `statuses`. */
export async function mjUntil(call: Call, id: string, statuses: string[], key?: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const r = await call('GET', `/mj/task/${id}/fetch`, { key });
      return statuses.includes(r.body?.status) ? r.body : null;
    },
    { timeoutMs, what: `task ${id} to reach ${statuses.join('|')}` },
  );
}
