import { Queue } from 'bullmq';
import { keyspace } from '../../shared/keys.js';
import type { SimMj } from '../../sim/mj.js';
import { startSim, type Sim } from '../../sim/server.js';
import { startBaselineWorker } from './baselines.js';
import { drainRate, pending, type DrainResult } from './drain.js';
import { judge, round, type BenchContext, type Figure } from './figure.js';
import { IMAGINE } from './http-figures.js';
import { preload } from './load.js';
import { cpuMs, rssBytes, sampleRss, sleep, stopAll, type Child } from './procs.js';
import { AUTH, startApiChild, startWorkerChild, type StackEnv } from './relayq.js';

/** The chat request of the worker figures: one short message, answered at once by the simulator. */
export const CHAT = { model: 'sim-chat', messages: [{ role: 'user', content: 'hello from the benchmark' }] };
/** Jobs one worker runs at once on the chat queue: relayq's default TEXT_CONCURRENCY, and the baseline's. */
const TEXT_CONCURRENCY = 50;

/** relayq's BullMQ queue of chat jobs under a prefix (read only, to count what is left). */
const chatQueue = (ctx: BenchContext, prefix: string) => new Queue('text', { connection: ctx.redis.client, prefix: keyspace(prefix, { queue: 'text', shard: 0 }).bullPrefix });

/** Fills relayq's chat queue with `n` async chat tasks through its API (no worker running yet). */
async function preloadChats(s: StackEnv, n: number): Promise<void> {
  const api = await startApiChild(s, [], 'api-preload');
  const ok = await preload({ method: 'POST', url: `${api.url}/v1/chat/completions`, headers: { ...AUTH, prefer: 'respond-async' }, body: CHAT }, n);
  await api.child.stop();
  if (ok < n * 0.99) throw new Error(`preload: only ${ok} of ${n} chat submits were accepted`);
}

/** Drain rate of the given workers, with their CPU time per job. */
async function measure(q: Queue, workers: Child[], seconds: number): Promise<DrainResult & { cpuMsPerJob: number }> {
  const before = workers.reduce((a, w) => a + cpuMs(w.pid), 0);
  const r = await drainRate(q, seconds);
  const used = workers.reduce((a, w) => a + cpuMs(w.pid), 0) - before;
  return { ...r, jobsPerSec: round(r.jobsPerSec, 1), seconds: round(r.seconds, 2), cpuMsPerJob: round(used / Math.max(1, r.processed), 3) };
}

/** Drain results of several rounds as one: jobs/s over all windows, CPU per job over all jobs. */
function mergeDrains(rs: (DrainResult & { cpuMsPerJob: number })[]): DrainResult & { cpuMsPerJob: number; rounds: number[] } {
  const processed = rs.reduce((a, r) => a + r.processed, 0);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  const cpu = rs.reduce((a, r) => a + r.cpuMsPerJob * r.processed, 0);
  return { jobsPerSec: round(processed / seconds, 1), processed, seconds: round(seconds, 2), ranDry: rs.some((r) => r.ranDry), cpuMsPerJob: round(cpu / Math.max(1, processed), 3), rounds: rs.map((r) => r.jobsPerSec) };
}

/**
 * End-to-end jobs/s with an instant upstream: one relayq worker process draining a queue of
 * chat tasks (task record, events, the upstream call, the result stored) against one bare BullMQ
 * worker process draining jobs with the same upstream call, both at concurrency 50. Both queues
 * are filled while paused and both workers run throughout; the queues are resumed in turns (two
 * rounds each in quick mode, three otherwise), so that whatever else the machine does weighs on
 * both alike.
 */
export async function e2eFigure(ctx: BenchContext): Promise<Figure> {
  const n = ctx.quick ? 8000 : 30000;
  const rounds = ctx.quick ? 2 : 3;
  const sim = await startSim({});
  const prefix = ctx.prefix('e2e');
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix, logLevel: ctx.logLevel };
  const q = chatQueue(ctx, prefix);
  const basePrefix = ctx.prefix('e2e-base');
  const bq = new Queue('chat', { connection: ctx.redis.client, prefix: basePrefix });
  try {
    await q.pause();
    await preloadChats(s, n);
    await bq.pause();
    for (let i = 0; i < n; i += 1000) await bq.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: 'chat', data: CHAT, opts: { removeOnComplete: true } })));
    const worker = await startWorkerChild(s);
    const bw = await startBaselineWorker({ redisUrl: ctx.redis.url, prefix: basePrefix, queue: 'chat', upstream: `${sim.url}/v1`, concurrency: TEXT_CONCURRENCY });
    const runs: [(DrainResult & { cpuMsPerJob: number })[], (DrainResult & { cpuMsPerJob: number })[]] = [[], []];
    for (let i = 0; i < rounds; i++) {
      for (const [side, queue, w] of [[0, q, worker], [1, bq, bw]] as const) {
        await queue.resume();
        runs[side].push(await measure(queue, [w], ctx.loadSeconds / rounds));
        await queue.pause();
      }
    }
    const r = mergeDrains(runs[0]);
    const b = mergeDrains(runs[1]);
    return judge({
      id: 'e2e',
      title: 'end-to-end chat jobs/s, instant upstream, one worker process',
      short: 'end-to-end jobs/s',
      value: r.jobsPerSec,
      unit: 'jobs/s',
      baseline: b.jobsPerSec,
      baselineLabel: 'bare BullMQ worker making the same HTTP call',
      ratio: round(r.jobsPerSec / b.jobsPerSec, 3),
      target: { kind: 'min-ratio', value: 0.9, text: '≥ 0.9×' },
      details: { queued: n, concurrency: TEXT_CONCURRENCY, rounds, relayq: r, baseline: b },
    });
  } finally {
    await stopAll();
    await q.close();
    await bq.close();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}

/**
 * Scaling: 1, 2 and 4 relayq worker processes draining chat tasks from an upstream that takes
 * 200 ms per call, against linear (k × one worker's rate). Each worker runs 10 chat jobs at once,
 * so the ideal (50 jobs/s per worker) stays within what two cores can relay: the figure shows
 * how the workers share the queue and Redis, not how many cores the machine has.
 */
export async function scalingFigure(ctx: BenchContext): Promise<Figure> {
  const perWorker = 10;
  const sim = await startSim({});
  sim.faults.add({ route: 'openai', kind: 'latency', ms: 200 });
  const steps: { workers: number; jobsPerSec: number; linear: number; ratio: number; cpuMsPerJob: number; ranDry: boolean }[] = [];
  try {
    let one = 0;
    for (const k of [1, 2, 4]) {
      const prefix = ctx.prefix(`scale${k}`);
      const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix, logLevel: ctx.logLevel, extra: { TEXT_CONCURRENCY: String(perWorker) } };
      const ideal = 50 * k;
      await preloadChats(s, Math.ceil(ideal * (ctx.loadSeconds + 8)));
      const q = chatQueue(ctx, prefix);
      const workers = await Promise.all(Array.from({ length: k }, (_, i) => startWorkerChild(s, `worker-${k}-${i + 1}`)));
      const r = await measure(q, workers, ctx.loadSeconds);
      await stopAll();
      await q.close();
      await ctx.redis.client.flushall();
      if (k === 1) one = r.jobsPerSec;
      const linear = one * k;
      steps.push({ workers: k, jobsPerSec: r.jobsPerSec, linear: round(linear, 1), ratio: round(r.jobsPerSec / linear, 3), cpuMsPerJob: r.cpuMsPerJob, ranDry: r.ranDry });
      ctx.say(`  ${k} worker(s): ${r.jobsPerSec} jobs/s (linear ${round(linear, 1)})`);
    }
    const four = steps[steps.length - 1]!;
    return judge({
      id: 'scaling',
      title: '1 → 2 → 4 worker processes, 200 ms upstream (worst of 2 and 4 vs linear)',
      short: 'scaling 1 → 2 → 4 workers',
      value: four.jobsPerSec,
      unit: 'jobs/s',
      baseline: four.linear,
      baselineLabel: 'linear: 4 × one worker',
      // The worst of 2 and 4 workers (one worker is linear by definition).
      ratio: Math.min(...steps.filter((x) => x.workers > 1).map((x) => x.ratio)),
      target: { kind: 'min-ratio', value: 0.9, text: '≥ 0.9× linear' },
      details: { upstreamLatencyMs: 200, textConcurrencyPerWorker: perWorker, idealPerWorker: 50, steps },
    });
  } finally {
    await stopAll();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}

/** Progress reads the simulator received in a window (MJ batch reads and single fetches), per second. */
function progressReads(sim: Sim, since: number): { count: number; ids: number } {
  const reads = sim.requests.filter((r) => r.at >= since && (r.path.endsWith('/task/list-by-condition') || /\/task\/[^/]+\/fetch$/.test(r.path)));
  return { count: reads.length, ids: reads.reduce((a, r) => a + (r.ids ?? 1), 0) };
}

/**
 * MJ tasks in flight followed by one worker process: `n` imagine tasks (10,000; 1,000 in quick
 * mode) queued through the API, then one worker submits them all upstream. Once all are in flight,
 * the worker's RSS is sampled and the simulator counts progress reads per second over a window.
 * The simulated tasks last 10 minutes rather than one, so that all `n` are in flight at once
 * however fast the worker submits them (neither figure depends on the duration: RSS on how many
 * tasks are followed, progress reads on that and the poll interval). Two figures: RSS (≤ 300 MB)
 * and progress requests/s (≤ in-flight/100 + channels).
 */
export async function inflightFigures(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.quick ? 1000 : 10000;
  const durationMs = 600_000;
  const sim = await startSim({ mjDurationMs: durationMs });
  const mj = sim.handles.mj as SimMj;
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix: ctx.prefix('inflight'), logLevel: ctx.logLevel };
  const mjQueue = new Queue('mj', { connection: ctx.redis.client, prefix: keyspace(s.prefix, { queue: 'mj', shard: 0 }).bullPrefix });
  try {
    const api = await startApiChild(s, [], 'api-preload');
    const ok = await preload({ method: 'POST', url: `${api.url}/mj/submit/imagine`, headers: AUTH, body: IMAGINE }, n);
    await api.child.stop();
    const worker = await startWorkerChild(s);
    const idleRss = rssBytes(worker.pid);
    const startedAt = Date.now();
    const submitCpu0 = cpuMs(worker.pid);
    const deadline = startedAt + 300_000;
    while ((await pending(mjQueue)) > 0 && Date.now() < deadline) await sleep(100);
    const submitSeconds = (Date.now() - startedAt) / 1000;
    const submitCpuMs = cpuMs(worker.pid) - submitCpu0;
    const inFlight = mj.tasks.size;
    const leftInQueue = await pending(mjQueue);
    // A tick or two for the tracker to pick up the last ones, then the window.
    await sleep(2000);
    const windowMs = (ctx.quick ? 6 : 20) * 1000;
    const rss = sampleRss(worker.pid);
    const from = Date.now();
    const cpu0 = cpuMs(worker.pid);
    await sleep(windowMs);
    const reads = progressReads(sim, from);
    const cpu = cpuMs(worker.pid) - cpu0;
    const { peak, last } = rss.stop();
    const seconds = (Date.now() - from) / 1000;
    const perSec = reads.count / seconds;
    const channels = 1;
    const allowed = inFlight / 100 + channels;
    const common = {
      inFlight,
      queued: n,
      accepted: ok,
      leftInQueue,
      upstreamSubmitsPerSec: round(inFlight / submitSeconds, 1),
      workerCpuMsPerUpstreamSubmit: round(submitCpuMs / Math.max(1, inFlight), 3),
      upstreamTaskMs: durationMs,
      windowSeconds: round(seconds, 1),
      pollIntervalMs: 1000,
      idleRssMB: round(idleRss / 2 ** 20, 1),
      peakRssMB: round(peak / 2 ** 20, 1),
      lastRssMB: round(last / 2 ** 20, 1),
      workerCpuPercent: round((cpu / (seconds * 1000)) * 100, 1),
      progressReadsPerSec: round(perSec, 2),
      idsPerRead: round(reads.ids / Math.max(1, reads.count), 0),
    };
    return [
      judge({
        id: 'inflight-rss',
        title: `worker RSS with ${inFlight.toLocaleString('en')} MJ tasks in flight`,
        short: `worker RSS, ${inFlight.toLocaleString('en')} in flight`,
        value: round(peak / 2 ** 20, 1),
        unit: 'MB',
        baseline: null,
        baselineLabel: '—',
        ratio: null,
        target: { kind: 'max', value: 300, text: '≤ 300 MB at 10,000 in flight' },
        details: common,
      }),
      judge({
        id: 'inflight-progress',
        title: `progress requests/s with ${inFlight.toLocaleString('en')} MJ tasks in flight`,
        short: `progress req/s, ${inFlight.toLocaleString('en')} in flight`,
        value: round(perSec, 2),
        unit: 'req/s',
        baseline: null,
        baselineLabel: '—',
        ratio: null,
        target: { kind: 'max', value: round(allowed, 2), text: `≤ in-flight/100 + channels (${round(allowed, 2)})` },
        details: common,
      }),
    ];
  } finally {
    await stopAll();
    await mjQueue.close();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}
