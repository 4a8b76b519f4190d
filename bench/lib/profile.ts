import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startSim } from '../../sim/server.js';
import type { BenchContext } from './figure.js';
import { finishedImagine, IMAGINE } from './http-figures.js';
import { hammer, type Target } from './load.js';
import { LOG_DIR, ROOT, sleep, stopAll, type Child } from './procs.js';
import { startBaselineApi } from './baselines.js';
import { freePort } from './redis.js';
import { AUTH, startApiChild, startWorkerChild, taskKey, type ApiChild, type StackEnv } from './relayq.js';

/** A node of a V8 `.cpuprofile` (the parts read here). */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Where a function lives, short: `pino`, `fastify`, `api/submit.ts`, `node:internal`, … */
function areaOf(url: string): string {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  return url.replace(`file://${ROOT}`, '');
}

/** A function's file, short: `ioredis/built/Pipeline.js`, `api/submit.ts`, `node:net`. */
function fileOf(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url.startsWith('node:') ? url : url.replace(`file://${ROOT}`, '');
}

/**
 * Self time by function and by area (self, and with callees), in µs per request, and the busy
 * (not idle) time per request, from a V8 CPU profile: only the samples
 * taken between `fromMs` and `toMs` after the profile started (the measured load, not the start-up
 * or the warm-up).
 */
function summarize(
  file: string,
  requests: number,
  fromMs: number,
  toMs: number,
  top = 20,
): { functions: [string, number][]; areas: [string, number][]; inclusive: [string, number][]; sampledMs: number; busyUsPerRequest: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
  const selfUs = new Map<number, number>();
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let t = 0;
  let sampled = 0;
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const delta = p.timeDeltas[i] ?? 0;
    t += delta;
    if (t / 1000 < fromMs || t / 1000 > toMs) continue;
    // A sample stands for the time until the next one.
    const us = p.timeDeltas[i + 1] ?? delta;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + us);
    sampled += us;
    if (!idle.has(p.samples[i]!)) busy += us;
  }
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  // Inclusive: a sample counts once for every package or relayq file on its stack.
  const parent = new Map<number, ProfileNode>();
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let n = byId.get(id); n; n = parent.get(n.id)) {
      if (!n.callFrame.url) continue;
      const area = areaOf(n.callFrame.url);
      if (seen.has(area)) continue;
      seen.add(area);
      inclusive.set(area, (inclusive.get(area) ?? 0) + us);
    }
  }
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0) continue;
    const where = n.callFrame.url ? `${fileOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim();
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const area = n.callFrame.url ? areaOf(n.callFrame.url) : n.callFrame.functionName || '(anonymous native)';
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const perRequest = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, Number((us / requests).toFixed(1))] as [string, number]);
  return { functions: perRequest(byFn), areas: perRequest(byArea), inclusive: perRequest(inclusive), sampledMs: sampled / 1000, busyUsPerRequest: Number((busy / requests).toFixed(1)) };
}

/**
 * A TCP proxy to Redis that counts request bursts: a write from the client that follows an
 * answer from Redis starts a new round trip; writes before the answer (pipelined or concurrent
 * commands) belong to the same one.
 */
async function countingProxy(targetPort: number): Promise<{ port: number; roundTrips(): number; reset(): void; close(): Promise<void> }> {
  let trips = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    let answered = true;
    client.on('data', (d) => {
      if (answered) trips++;
      answered = false;
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      answered = true;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    roundTrips: () => trips,
    reset: () => void (trips = 0),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Where the profiled API's time went under one load: µs per request, largest first. */
interface CpuSummary {
  reqPerSec: number;
  /** CPU time per request: the samples that were not idle, µs. */
  busyUsPerRequest: number;
  /** Self time per request by package or relayq file. */
  areasUs: [string, number][];
  /** Time per request with each package or relayq file on the stack, callees included. */
  inclusiveUs: [string, number][];
  /** Self time per request by function. */
  functionsUs: [string, number][];
}

/**
 * A CPU profile (`node --cpu-prof`, into `<LOG_DIR>/cpu-profile-<what>`) of an API child already
 * started with those flags, under `target`'s closed-loop load (64 connections, one second of
 * warm-up, then the figure's load time), printed as time per request (`what`: submit, fetch).
 * Stops the child: V8 writes the profile at its exit. `spawnedAt` is the child's start (epoch ms),
 * where the profile's clock starts.
 */
async function cpuProfile(ctx: BenchContext, api: { child: Child }, spawnedAt: number, dir: string, target: Target, what: string): Promise<CpuSummary> {
  await hammer(target, { connections: 64, seconds: 1 });
  const from = Date.now() - spawnedAt;
  const r = await hammer(target, { connections: 64, seconds: ctx.loadSeconds });
  const to = Date.now() - spawnedAt;
  await api.child.stop(15_000);
  const deadline = Date.now() + 10_000;
  while (!readdirSync(dir).some((f) => f.endsWith('.cpuprofile')) && Date.now() < deadline) await sleep(100);
  // One file per thread (tsx's loader runs in a worker thread): the main thread's is `….0.<n>.cpuprofile`.
  const file = readdirSync(dir)
    .sort()
    .find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file || !existsSync(join(dir, file))) throw new Error('profile: the API wrote no .cpuprofile');
  const sum = summarize(join(dir, file), r.total, from, to);
  ctx.say(`profile: ${join(dir, file)} (${Math.round(sum.sampledMs)} ms sampled under load, ${r.total} ${what} requests at ${Math.round(r.reqPerSec)}/s while profiled; busy ${sum.busyUsPerRequest} µs per ${what})`);
  ctx.say(`  self time per ${what} by package/file (µs):`);
  for (const [k, us] of sum.areas) ctx.say(`    ${String(us).padStart(8)}  ${k}`);
  ctx.say(`  time per ${what} under each package or file, callees included (µs):`);
  for (const [k, us] of sum.inclusive) ctx.say(`    ${String(us).padStart(8)}  ${k}`);
  ctx.say(`  self time per ${what} by function (µs):`);
  for (const [k, us] of sum.functions) ctx.say(`    ${String(us).padStart(8)}  ${k}`);
  return { reqPerSec: r.reqPerSec, busyUsPerRequest: sum.busyUsPerRequest, areasUs: sum.areas, inclusiveUs: sum.inclusive, functionsUs: sum.functions };
}

/** Redis work per request, as `countRedis` measures it. */
interface RedisCount {
  roundTrips: number;
  commands: number;
  /** The commands of one request as MONITOR showed them (first three words each). */
  one: string[];
}

/**
 * Redis round trips and commands per request (`what`: submit, fetch): 200 sequential requests
 * (`one`, on an API child started here whose Redis is a counting proxy) after 20 not counted,
 * from the proxy and from INFO commandstats, then the command sequence of one request from MONITOR.
 */
async function countRedis(ctx: BenchContext, s: StackEnv, one: (api: ApiChild) => Promise<unknown>, what: string): Promise<RedisCount> {
  const redis = ctx.redis.client;
  const proxy = await countingProxy(ctx.redis.port);
  try {
    const counted = await startApiChild({ ...s, redisUrl: `redis://127.0.0.1:${proxy.port}` }, [], 'api-counted');
    for (let i = 0; i < 20; i++) await one(counted);
    const m = 200;
    const before = await redis.info('commandstats');
    proxy.reset();
    for (let i = 0; i < m; i++) await one(counted);
    const trips = proxy.roundTrips() / m;
    const calls = (info: string) => new Map([...info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
    const a = calls(before);
    const b = calls(await redis.info('commandstats'));
    const perRequest = [...b].map(([cmd, n]) => [cmd, (n - (a.get(cmd) ?? 0)) / m] as const).filter(([cmd, n]) => n > 0 && cmd !== 'info');
    const commands = perRequest.reduce((x, [, n]) => x + n, 0);
    ctx.say(`round trips per ${what} (sequential requests through a counting proxy): ${trips.toFixed(2)}`);
    ctx.say(`commands per ${what}: ${commands.toFixed(2)} (${perRequest.map(([c, n]) => `${c} ${n.toFixed(2)}`).join(', ')})`);
    const monitor = await redis.duplicate().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => void seen.push(args.slice(0, 3).map((x) => x.slice(0, 48)).join(' ')));
    await one(counted);
    await sleep(200);
    monitor.disconnect();
    ctx.say(`one ${what} as Redis saw it (MONITOR, ${seen.length} commands):`);
    for (const line of seen) ctx.say(`    ${line}`);
    return { roundTrips: Number(trips.toFixed(2)), commands: Number(commands.toFixed(2)), one: seen };
  } finally {
    // The proxy's server closes once no connection is left: the API goes first.
    await stopAll();
    await proxy.close();
  }
}

/** What `--profile` found, for results.json and BENCHMARKS.md. */
export interface SubmitProfile {
  submitsPerSecWhileProfiled: number;
  /** Self time per submit (µs) by package or relayq file, then by function, largest first. */
  areasUs: [string, number][];
  /** Time per submit (µs) with each package or relayq file on the stack, callees included. */
  inclusiveUs: [string, number][];
  functionsUs: [string, number][];
  roundTripsPerSubmit: number;
  commandsPerSubmit: number;
  /** The commands of one submit as MONITOR showed them (first three words each). */
  oneSubmit: string[];
}

/**
 * `--profile`: (1) a CPU profile of relayq's API (`node --cpu-prof`) under the submit load of the
 * submit figure, printed as self time per submit by function and by package; (2) Redis round
 * trips and commands per submit, from sequential submits through a counting proxy and from
 * INFO commandstats, with the command sequence of one submit from MONITOR.
 */
export async function profileSubmit(ctx: BenchContext): Promise<SubmitProfile> {
  const dir = join(LOG_DIR, 'cpu-profile');
  mkdirSync(dir, { recursive: true });
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: 'http://127.0.0.1:9', prefix: ctx.prefix('profile'), logLevel: ctx.logLevel };
  try {
    // The profile's clock starts with the process: load times are taken relative to the spawn.
    const spawnedAt = Date.now();
    const api = await startApiChild(s, [`--cpu-prof`, `--cpu-prof-dir=${dir}`], 'api-profiled');
    const cpu = await cpuProfile(ctx, api, spawnedAt, dir, { method: 'POST', url: `${api.url}/mj/submit/imagine`, headers: AUTH, body: IMAGINE }, 'submit');
    await ctx.redis.client.flushall();
    const one = (counted: ApiChild) =>
      fetch(`${counted.url}/mj/submit/imagine`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(IMAGINE) }).then((x) => x.text());
    const n = await countRedis(ctx, s, one, 'submit');
    return { submitsPerSecWhileProfiled: Math.round(cpu.reqPerSec), areasUs: cpu.areasUs, inclusiveUs: cpu.inclusiveUs, functionsUs: cpu.functionsUs, roundTripsPerSubmit: n.roundTrips, commandsPerSubmit: n.commands, oneSubmit: n.one };
  } finally {
    await stopAll();
    await ctx.redis.client.flushall();
  }
}

/** What `--profile-fetch` found (printed; not part of the report). */
export interface FetchProfile extends CpuSummary, RedisCount {
  /** The baseline's profile under its own load (one HGETALL of the same task's hash). */
  baseline: CpuSummary;
}

/**
 * `--profile-fetch`: the same for the fetch figure's load, `GET /mj/task/{id}/fetch` of one
 * finished imagine task (made first by a worker against the simulator): a CPU profile of the API
 * as time per fetch, one of the fetch figure's baseline (a bare HGETALL route) under its load on
 * the same task's hash, to set them side by side, then Redis round trips and commands per fetch.
 */
export async function profileFetch(ctx: BenchContext): Promise<FetchProfile> {
  const dir = join(LOG_DIR, 'cpu-profile-fetch');
  mkdirSync(dir, { recursive: true });
  const sim = await startSim({ mjDurationMs: 0 });
  const s: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix: ctx.prefix('profile-fetch'), logLevel: ctx.logLevel };
  try {
    const spawnedAt = Date.now();
    const api = await startApiChild(s, [`--cpu-prof`, `--cpu-prof-dir=${dir}`], 'api-profiled');
    const worker = await startWorkerChild(s);
    const id = await finishedImagine(api.url);
    await worker.stop();
    const cpu = await cpuProfile(ctx, api, spawnedAt, dir, { method: 'GET', url: `${api.url}/mj/task/${id}/fetch`, headers: AUTH }, 'fetch');
    const key = taskKey(s.prefix, id);
    const baseDir = join(LOG_DIR, 'cpu-profile-fetch-baseline');
    mkdirSync(baseDir, { recursive: true });
    const baseSpawnedAt = Date.now();
    const base = await startBaselineApi(ctx.redis.url, ctx.prefix('profile-fetch-base'), 'bench', [`--cpu-prof`, `--cpu-prof-dir=${baseDir}`]);
    ctx.say('baseline (bare HGETALL route) under the same load:');
    const baseline = await cpuProfile(ctx, base, baseSpawnedAt, baseDir, { method: 'GET', url: `${base.url}/hash/${encodeURIComponent(key)}`, headers: {} }, 'fetch');
    const one = (counted: ApiChild) => fetch(`${counted.url}/mj/task/${id}/fetch`, { headers: AUTH }).then((x) => x.text());
    return { ...cpu, ...(await countRedis(ctx, s, one, 'fetch')), baseline };
  } finally {
    await stopAll();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}

/** Where `--profile-worker` has the worker children write their CPU profiles. */
export const WORKER_PROFILE_DIR = join(LOG_DIR, 'worker-profile');

/**
 * `--profile-worker`: prints each worker child's CPU profile (the main thread's, whole run) as
 * self time by package or file, time with callees, and self time by function, in ms and as a
 * share of the busy (non-idle) time.
 */
export function reportWorkerProfiles(ctx: Pick<BenchContext, 'say'>): void {
  if (!existsSync(WORKER_PROFILE_DIR)) return;
  const files = readdirSync(WORKER_PROFILE_DIR)
    .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
    .sort();
  for (const file of files) {
    const sum = summarize(join(WORKER_PROFILE_DIR, file), 1000, 0, Number.POSITIVE_INFINITY, 30);
    const idle = sum.areas.find(([k]) => k === '(idle)')?.[1] ?? 0;
    const busy = sum.sampledMs - idle;
    const pct = (ms: number) => `${((ms / busy) * 100).toFixed(1).padStart(5)} %`;
    ctx.say(`worker profile ${join(WORKER_PROFILE_DIR, file)}: ${Math.round(sum.sampledMs)} ms sampled, ${Math.round(busy)} ms busy`);
    for (const [title, rows] of [['self time by package/file', sum.areas], ['with callees', sum.inclusive], ['self time by function', sum.functions]] as const) {
      ctx.say(`  ${title} (ms, share of busy):`);
      for (const [k, ms] of rows) ctx.say(`    ${String(ms).padStart(9)}  ${pct(ms)}  ${k}`);
    }
  }
}
