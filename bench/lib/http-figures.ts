import { startSim } from '../../sim/server.js';
import type { SimMj } from '../../sim/mj.js';
import { startBaselineApi } from './baselines.js';
import { judge, round, type BenchContext, type Figure } from './figure.js';
import { alternate, hammer, paced, quantile, type LoadResult, type Target } from './load.js';
import { cpuMs, sleep, stopAll } from './procs.js';
import { AUTH, startApiChild, startWorkerChild, taskKey, type StackEnv } from './relayq.js';

/** The imagine request of every submit figure (as a Midjourney-proxy client sends it). */
export const IMAGINE = { prompt: 'a red fox in the snow --ar 16:9', notifyHook: '', state: '' };
const CONNECTIONS = 64;

/**
 * relayq and its baseline under the same closed-loop load, in turns (two rounds each in quick
 * mode, three otherwise), with the CPU time each process spent per request (from /proc).
 */
async function compare(relayqPid: number, relayq: Target, basePid: number, base: Target, ctx: BenchContext): Promise<[LoadResult & { cpuMsPerRequest: number }, LoadResult & { cpuMsPerRequest: number }]> {
  // A warm-up of each (JIT, connection pools), not counted.
  await hammer(relayq, { connections: CONNECTIONS, seconds: 1 });
  await hammer(base, { connections: CONNECTIONS, seconds: 1 });
  const cpu0 = [cpuMs(relayqPid), cpuMs(basePid)] as const;
  const [r, b] = await alternate(relayq, base, { connections: CONNECTIONS, seconds: ctx.loadSeconds, rounds: ctx.quick ? 2 : 3 });
  const per = (pid: number, from: number, x: LoadResult) => round((cpuMs(pid) - from) / Math.max(1, x.total), 3);
  return [
    { ...r, cpuMsPerRequest: per(relayqPid, cpu0[0], r) },
    { ...b, cpuMsPerRequest: per(basePid, cpu0[1], b) },
  ];
}

/**
 * Submit req/s: `POST /mj/submit/imagine` on relayq's API (auth, validation, limits, task record,
 * job) against a bare Fastify route doing one BullMQ `queue.add`, both as child processes under
 * the same closed-loop load (64 connections). No worker runs, so only the submit path is timed.
 */
export async function submitFigure(ctx: BenchContext): Promise<Figure> {
  const sim = await startSim({});
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix: ctx.prefix('submit'), logLevel: ctx.logLevel };
  try {
    const base = await startBaselineApi(ctx.redis.url, ctx.prefix('submit-base'), 'bench');
    const api = await startApiChild(s);
    const [r, b] = await compare(
      api.child.pid,
      { method: 'POST', url: `${api.url}/mj/submit/imagine`, headers: AUTH, body: IMAGINE },
      base.child.pid,
      { method: 'POST', url: `${base.url}/submit`, headers: {}, body: IMAGINE },
      ctx,
    );
    const ratio = r.reqPerSec / b.reqPerSec;
    return judge({
      id: 'submit',
      title: 'submit req/s, POST /mj/submit/imagine',
      short: 'submit req/s',
      value: round(r.reqPerSec, 0),
      unit: 'req/s',
      baseline: round(b.reqPerSec, 0),
      baselineLabel: 'bare Fastify route doing one BullMQ queue.add',
      ratio: round(ratio, 3),
      target: { kind: 'min-ratio', value: 0.85, text: '≥ 0.85×' },
      details: { connections: CONNECTIONS, seconds: ctx.loadSeconds, relayq: r, baseline: b },
    });
  } finally {
    await stopAll();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}

/**
 * Submits one imagine to the API at `apiUrl` and polls it until it succeeded (a worker and an
 * upstream must run); resolves with its id. Throws after `timeoutMs`.
 */
export async function finishedImagine(apiUrl: string, timeoutMs = 30_000): Promise<string> {
  const submitted = (await (await fetch(`${apiUrl}/mj/submit/imagine`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(IMAGINE) })).json()) as { result: string };
  const id = submitted.result;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = (await (await fetch(`${apiUrl}/mj/task/${id}/fetch`, { headers: AUTH })).json()) as { status?: string };
    if (task.status === 'SUCCESS') return id;
    if (Date.now() > deadline) throw new Error(`task ${id} did not succeed (${JSON.stringify(task)})`);
    await sleep(100);
  }
}

/**
 * Fetch req/s: `GET /mj/task/{id}/fetch` of one finished imagine task (buttons, image) against a
 * bare Fastify route doing one `HGETALL` of the same task's hash.
 */
export async function fetchFigure(ctx: BenchContext): Promise<Figure> {
  const sim = await startSim({ mjDurationMs: 0 });
  const prefix = ctx.prefix('fetch');
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix, logLevel: ctx.logLevel };
  try {
    const api = await startApiChild(s);
    const worker = await startWorkerChild(s);
    const id = await finishedImagine(api.url);
    await worker.stop();
    const key = taskKey(prefix, id);
    const base = await startBaselineApi(ctx.redis.url, ctx.prefix('fetch-base'), 'bench');
    const [r, b] = await compare(
      api.child.pid,
      { method: 'GET', url: `${api.url}/mj/task/${id}/fetch`, headers: AUTH },
      base.child.pid,
      { method: 'GET', url: `${base.url}/hash/${encodeURIComponent(key)}`, headers: {} },
      ctx,
    );
    return judge({
      id: 'fetch',
      title: 'fetch req/s, GET /mj/task/{id}/fetch',
      short: 'fetch req/s',
      value: round(r.reqPerSec, 0),
      unit: 'req/s',
      baseline: round(b.reqPerSec, 0),
      baselineLabel: 'bare Fastify route doing one HGETALL',
      ratio: round(r.reqPerSec / b.reqPerSec, 3),
      target: { kind: 'min-ratio', value: 0.8, text: '≥ 0.8×' },
      details: { connections: CONNECTIONS, seconds: ctx.loadSeconds, relayq: r, baseline: b, taskHashFields: Object.keys(await ctx.redis.client.hgetall(key)).length },
    });
  } finally {
    await stopAll();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}

/**
 * Submit → upstream latency at a fixed 1,000 submits/s (open loop, so a slow relayq shows as
 * latency, not as a lower rate): each imagine carries its number in the prompt, and the latency
 * is the simulator's arrival time of that prompt minus the time the submit was due. One API and
 * one worker process; the simulated MJ tasks take 2 s, so the tracker's polling runs as well.
 */
export async function latencyFigure(ctx: BenchContext): Promise<Figure> {
  const rate = 1000;
  const seconds = ctx.loadSeconds;
  const sim = await startSim({ mjDurationMs: 2000 });
  const mj = sim.handles.mj as SimMj;
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix: ctx.prefix('latency'), logLevel: ctx.logLevel };
  try {
    const api = await startApiChild(s);
    await startWorkerChild(s);
    // Warm-up at the same rate, not counted.
    await paced(api.url, (i) => ({ method: 'POST', path: '/mj/submit/imagine', headers: AUTH, body: { prompt: `warm-${i} a red fox` } }), { rate, seconds: 1, connections: CONNECTIONS });
    const sends = await paced(api.url, (i) => ({ method: 'POST', path: '/mj/submit/imagine', headers: AUTH, body: { prompt: `bench-lat-${i} a red fox in the snow` } }), { rate, seconds, connections: CONNECTIONS });
    // Code 1 is accepted, 22 accepted behind other tasks of the queue.
    const accepted = sends.filter((x) => x.status === 200 && [1, 22].includes((x.body as { code?: number })?.code ?? 0));
    if (accepted.length === 0) throw new Error(`latency figure: no submit was accepted (first answer: ${JSON.stringify(sends[0]?.body)})`);
    const arrived = new Map<number, number>();
    const deadline = Date.now() + (ctx.quick ? 10_000 : 30_000);
    while (arrived.size < accepted.length && Date.now() < deadline) {
      for (const t of mj.tasks.values()) {
        const m = /^bench-lat-(\d+) /.exec(t.prompt);
        if (m) arrived.set(Number(m[1]), t.submitTime);
      }
      if (arrived.size < accepted.length) await sleep(100);
    }
    // A submit that never reached the upstream counts with the time waited so far (a lower bound).
    const givenUpAt = Date.now();
    const latencies = accepted.map((x) => (arrived.get(x.i) ?? givenUpAt) - x.sentAt);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    const lastSentAt = Math.max(...sends.map((x) => x.sentAt));
    const firstSentAt = Math.min(...sends.map((x) => x.sentAt));
    return judge({
      id: 'latency',
      title: 'submit → upstream latency p99 at 1,000 submits/s',
      short: 'submit → upstream p99 at 1,000/s',
      value: round(p99, 1),
      unit: 'ms',
      baseline: null,
      baselineLabel: '—',
      ratio: null,
      target: { kind: 'max', value: 25, text: 'p99 ≤ 25 ms' },
      details: {
        rate,
        seconds,
        sent: sends.length,
        sentRatePerSec: round(sends.length / ((lastSentAt - firstSentAt) / 1000 || 1), 0),
        accepted: accepted.length,
        reachedUpstream: arrived.size,
        p50Ms: round(p50, 1),
        p90Ms: round(quantile(latencies, 0.9), 1),
        p99Ms: round(p99, 1),
        maxMs: round(Math.max(...latencies), 1),
        workers: 1,
      },
    });
  } finally {
    await stopAll();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}
