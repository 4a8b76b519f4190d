import { freePort } from './redis.js';
import { parseTaskId } from '../../shared/ids.js';
import { keyspace } from '../../shared/keys.js';
import { sleep, startNode, type Child } from './procs.js';

/** The one tenant of every benchmark: `Authorization: Bearer <BENCH_KEY>`. */
const BENCH_KEY = 'sk-bench-0123456789';
export const AUTH = { authorization: `Bearer ${BENCH_KEY}` };

/** Where relayq's processes find Redis and the upstreams, and the settings every figure shares. */
export interface StackEnv {
  redisUrl: string;
  /** Base URL of the simulator (MJ upstream; the OpenAI upstream is `<simUrl>/v1`). */
  simUrl: string;
  /** Key prefix of this figure, so figures never see each other's data. */
  prefix: string;
  logLevel: string;
  /** Settings of this figure on top of the common ones (e.g. TEXT_CONCURRENCY). */
  extra?: Record<string, string>;
}

/**
 * The environment of relayq's API and worker for a benchmark: one tenant, limits that a load
 * test would otherwise hit (rate limit per tenant, queue depth) raised out of the way, and
 * everything else at relayq's defaults.
 */
function relayqEnv(s: StackEnv): Record<string, string> {
  return {
    REDIS_URL: s.redisUrl,
    QUEUE_PREFIX: s.prefix,
    API_KEYS: `bench:${BENCH_KEY}`,
    MJ_UPSTREAM_URL: s.simUrl,
    OPENAI_UPSTREAM_URL: `${s.simUrl}/v1`,
    RATE_LIMIT_PER_MINUTE: '1000000000',
    MAX_QUEUE_DEPTH: '10000000',
    LOG_LEVEL: s.logLevel,
    SHUTDOWN_GRACE_SECONDS: '2',
    ...s.extra,
  };
}

/** A started API child and its base URL. */
export interface ApiChild {
  child: Child;
  url: string;
}

/** Polls `GET <url>/healthz` until it answers 200 or the child dies. */
async function waitHealthy(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${url}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited at start:\n${child.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${child.name} not healthy within ${timeoutMs} ms:\n${child.output().slice(-2000)}`);
    await sleep(50);
  }
}

/** Starts relayq's API (`node --import tsx api/main.ts`) on a free port; resolves once it answers. */
export async function startApiChild(s: StackEnv, nodeArgs: string[] = [], name = 'api'): Promise<ApiChild> {
  const port = await freePort();
  const child = startNode(name, 'api/main.ts', { ...relayqEnv(s), HOST: '127.0.0.1', PORT: String(port) }, nodeArgs);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, url);
  return { child, url };
}

/** Node options every worker child of this run starts with (`--profile-worker` sets `--cpu-prof`). */
let workerNodeArgs: string[] = [];

/** Sets the Node options of every worker child started from now on (e.g. `--cpu-prof`). */
export function setWorkerNodeArgs(args: string[]): void {
  workerNodeArgs = args;
}

/**
 * Starts one relayq worker process (`node --import tsx worker/main.ts`); resolves once its
 * BullMQ workers have started (its `workers started` log line, so LOG_LEVEL must be info or lower
 * for the worker).
 */
export async function startWorkerChild(s: StackEnv, name = 'worker'): Promise<Child> {
  const child = startNode(name, 'worker/main.ts', { ...relayqEnv({ ...s, logLevel: 'info' }), HOST: '127.0.0.1', PORT: '1' }, workerNodeArgs);
  await child.waitFor(/workers started/);
  return child;
}

/**
 * The Redis key of a task's record under `prefix`, from its id (which carries its placement).
 * @throws Error when `id` is not a task id.
 */
export function taskKey(prefix: string, id: string): string {
  const p = parseTaskId(id);
  if (!p) throw new Error(`not a task id: ${id}`);
  return keyspace(prefix, p).task(id);
}
