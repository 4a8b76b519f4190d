import { freePort } from './redis.js';
import { startNode, type Child } from './procs.js';

/** The baseline API child (bench/lib/baseline-api.ts) and its base URL. */
export interface BaselineApi {
  child: Child;
  url: string;
}

/** Starts the bare Fastify + BullMQ baseline API on a free port (`nodeArgs` for node); resolves once it listens. */
export async function startBaselineApi(redisUrl: string, prefix: string, queue: string, nodeArgs: string[] = []): Promise<BaselineApi> {
  const port = await freePort();
  const env = { BASELINE_REDIS_URL: redisUrl, BASELINE_PORT: String(port), BASELINE_PREFIX: prefix, BASELINE_QUEUE: queue };
  const child = startNode('baseline-api', 'bench/lib/baseline-api.ts', env, nodeArgs);
  await child.waitFor(/baseline listening/);
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Starts the bare BullMQ baseline worker (bench/lib/baseline-worker.ts); resolves once it runs. */
export async function startBaselineWorker(opts: { redisUrl: string; prefix: string; queue: string; upstream: string; concurrency: number }): Promise<Child> {
  const child = startNode('baseline-worker', 'bench/lib/baseline-worker.ts', {
    BASELINE_REDIS_URL: opts.redisUrl,
    BASELINE_PREFIX: opts.prefix,
    BASELINE_QUEUE: opts.queue,
    BASELINE_UPSTREAM: opts.upstream,
    BASELINE_CONCURRENCY: String(opts.concurrency),
  });
  await child.waitFor(/baseline worker ready/);
  return child;
}
