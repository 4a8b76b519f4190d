import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startSim } from '../../sim/server.js';
import { judge, round, type BenchContext, type Figure } from './figure.js';
import { IMAGINE } from './http-figures.js';
import { paced } from './load.js';
import { sleep, stopAll } from './procs.js';
import { AUTH, startApiChild, startWorkerChild, type StackEnv } from './relayq.js';
import { CHAT } from './worker-figures.js';

/** Bytes of every key matching `pattern`, by key (MEMORY USAGE with every element sampled). */
async function keyBytes(redis: Redis, pattern: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) out.set(key, Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) || 0);
  } while (cursor !== '0');
  return out;
}

const sum = (m: Map<string, number>, keep: (k: string) => boolean = () => true) => [...m].reduce((a, [k, v]) => a + (keep(k) ? v : 0), 0);

/** The part of a per-task key's name that says what it is: `task`, `events`, `webhook`, … */
const kindOf = (key: string, id: string) => /:([a-z-]+):[^:]*$/.exec(key.slice(0, key.indexOf(id) + id.length))?.[1] ?? 'other';

/** What finished tasks of one kind keep in Redis, per task, and until when. */
interface TaskBytes {
  perTask: number;
  /** Per-task keys by kind (bytes per task), blobs excluded. */
  byKind: Record<string, number>;
  /** Growth of keys shared by all tasks (tenant indexes, queue keys), per task. */
  sharedPerTask: number;
  /** The same by key (the figure's prefix left out), per task; keys that grew by under 1 B per task left out. */
  sharedByKey: Record<string, number>;
  /** The whole event log of a finished task, kept one hour beside its folded history: bytes per task on top of perTask in that hour. */
  firstHourExtraPerTask: number;
  /** INFO used_memory growth per task, a cross-check that includes allocator overhead. */
  usedMemoryPerTask: number;
  /** Seconds left to live of each per-task key kind right after the task finished (-1: no TTL). */
  ttlSeconds: Record<string, number>;
  /** Blob bytes per task, not counted in perTask. */
  blobsPerTask: number;
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);

/**
 * Runs `n` tasks of one kind through relayq to the end, then measures what they keep: the keys
 * named after each task, plus the growth of shared keys, divided by `n`.
 */
async function measureTasks(ctx: BenchContext, s: StackEnv, n: number, submit: { path: string; body: unknown; headers: Record<string, string> }, idOf: (body: unknown) => string | undefined): Promise<TaskBytes> {
  const api = await startApiChild(s);
  await startWorkerChild(s);
  const redis = ctx.redis.client;
  const isDone = (status: unknown) => status === 'succeeded' || status === 'failed' || status === 'canceled';
  const waitDone = async (ids: string[]) => {
    const deadline = Date.now() + 120_000;
    let left = ids;
    while (left.length > 0) {
      if (Date.now() > deadline) throw new Error(`memory figure: ${left.length} tasks did not finish`);
      const states = await Promise.all(left.map(async (id) => [id, ((await (await fetch(`${api.url}/v1/tasks/${id}`, { headers: AUTH })).json()) as { status?: string }).status] as const));
      left = states.filter(([, st]) => !isDone(st)).map(([id]) => id);
      if (left.length) await sleep(250);
    }
  };
  const run = async (count: number) => {
    const sends = await paced(api.url, () => ({ method: 'POST', ...submit }), { rate: 100, seconds: count / 100, connections: 8 });
    const ids = sends.map((x) => idOf(x.body)).filter((id): id is string => typeof id === 'string');
    if (ids.length < count) throw new Error(`memory figure: ${count - ids.length} submits refused`);
    await waitDone(ids);
    return ids;
  };
  // One task first, so the shared keys exist before the snapshot.
  await run(1);
  const before = await keyBytes(redis, `${s.prefix}:*`);
  const used0 = await usedMemory(redis);
  const ids = await run(n);
  // Nothing may change while the keys are read.
  await stopAll();
  const after = await keyBytes(redis, `${s.prefix}:*`);
  const idSet = new Set(ids);
  const owner = (key: string) => ids.find((id) => key.includes(id)) ?? null;
  const byKind: Record<string, number> = {};
  const ttlSeconds: Record<string, number> = {};
  let blobs = 0;
  let perTaskKeys = 0;
  // A finished task's whole event log stays only an hour beside its folded history (what stays
  // for the retention): counted apart, as what the first hour costs on top.
  let firstHour = 0;
  const folded = new Set([...after.keys()].filter((k) => k.includes(':history:')).map((k) => owner(k)));
  for (const [key, bytes] of after) {
    const id = owner(key);
    if (!id || !idSet.has(id)) continue;
    const kind = kindOf(key, id);
    if (kind === 'blobs') {
      blobs += bytes;
      continue;
    }
    if (kind === 'events' && folded.has(id)) {
      firstHour += bytes;
      ttlSeconds[kind] ??= await redis.ttl(key);
      continue;
    }
    perTaskKeys += bytes;
    byKind[kind] = (byKind[kind] ?? 0) + bytes / n;
    ttlSeconds[kind] ??= await redis.ttl(key);
  }
  const isShared = (k: string) => owner(k) === null && !k.includes(':blobs:');
  const shared = sum(after, isShared) - sum(before, isShared);
  const sharedByKey: Record<string, number> = {};
  for (const [key, bytes] of after) {
    const grew = (bytes - (before.get(key) ?? 0)) / n;
    if (isShared(key) && Math.abs(grew) >= 1) sharedByKey[key.slice(s.prefix.length + 1)] = round(grew, 0);
  }
  const used = (await usedMemory(redis)) - used0;
  return {
    perTask: round((perTaskKeys + shared) / n, 0),
    byKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, round(v, 0)])),
    sharedPerTask: round(shared / n, 0),
    sharedByKey,
    firstHourExtraPerTask: round(firstHour / n, 0),
    usedMemoryPerTask: round(used / n, 0),
    ttlSeconds,
    blobsPerTask: round(blobs / n, 0),
  };
}

/**
 * The baseline: bytes one finished bare BullMQ job keeps (BullMQ's defaults keep completed jobs:
 * the job hash with its data and return value, its entry in the completed set and the events
 * stream), with the imagine request as data and a submit answer as return value.
 */
async function bareJobBytes(ctx: BenchContext, n: number): Promise<number> {
  const prefix = ctx.prefix('mem-base');
  const queue = new Queue('bare', { connection: ctx.redis.client, prefix });
  const connection = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  const worker = new Worker('bare', async () => ({ code: 1, description: 'Submit success', result: '1732230000000123' }), { connection, prefix, concurrency: 50 });
  try {
    const finished = async (count: number) => {
      const deadline = Date.now() + 60_000;
      while ((await queue.getCompletedCount()) < count) {
        if (Date.now() > deadline) throw new Error('memory baseline: jobs did not finish');
        await sleep(50);
      }
    };
    await queue.add('imagine', IMAGINE);
    await finished(1);
    const before = sum(await keyBytes(ctx.redis.client, `${prefix}:*`));
    await queue.addBulk(Array.from({ length: n }, () => ({ name: 'imagine', data: IMAGINE })));
    await finished(n + 1);
    return round((sum(await keyBytes(ctx.redis.client, `${prefix}:*`)) - before) / n, 0);
  } finally {
    await worker.close();
    await queue.close();
    connection.disconnect();
  }
}

/**
 * Redis bytes per finished task, blobs excluded: MJ imagine tasks that went through ~45 progress
 * updates (a 5 s upstream task polled every 100 ms, as a one-minute task polled every second
 * would), and chat tasks; each against one bare BullMQ job. Two figures, target ≤ 2 KB each.
 */
export async function memoryFigures(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.quick ? 50 : 500;
  const sim = await startSim({ mjDurationMs: 5000 });
  try {
    const baseline = await bareJobBytes(ctx, n);
    const mjS: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix: ctx.prefix('mem-mj'), logLevel: ctx.logLevel, extra: { MJ_POLL_INTERVAL_MS: '100' } };
    const mj = await measureTasks(ctx, mjS, n, { path: '/mj/submit/imagine', body: IMAGINE, headers: AUTH }, (b) => (b as { result?: string })?.result);
    const chatS: StackEnv = { redisUrl: ctx.redis.url, simUrl: sim.url, prefix: ctx.prefix('mem-chat'), logLevel: ctx.logLevel };
    const chat = await measureTasks(ctx, chatS, n, { path: '/v1/chat/completions', body: CHAT, headers: { ...AUTH, prefer: 'respond-async' } }, (b) => (b as { id?: string })?.id);
    const retention = 604_800;
    const make = (id: string, title: string, short: string, m: TaskBytes) =>
      judge({
        id,
        title,
        short,
        value: m.perTask,
        unit: 'bytes',
        baseline,
        baselineLabel: 'one finished bare BullMQ job (defaults: kept)',
        ratio: round(m.perTask / baseline, 2),
        target: { kind: 'max', value: 2048, text: '≤ 2 KB' },
        details: { tasks: n, ...m, taskRetentionSeconds: retention, bytesAfter7DaysAt1TaskPerSec: m.perTask * retention },
      });
    return [make('bytes-mj', 'Redis bytes per finished MJ imagine task (with progress)', 'Redis bytes per MJ task', mj), make('bytes-chat', 'Redis bytes per finished chat task', 'Redis bytes per chat task', chat)];
  } finally {
    await stopAll();
    await sim.close();
    await ctx.redis.client.flushall();
  }
}
