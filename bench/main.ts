/**
 * `npm run bench` (`-- --quick` for a short run, 2–3 minutes on 2 cores): relayq's figures, each next to a baseline
 * measured in the same run on the same machine.
 *
 * It starts its own redis-server on a free port and the upstream simulator in this process, runs
 * relayq's API and worker as child processes (so RSS and CPU are per process), and writes
 * bench/results.json, bench/chart.svg and BENCHMARKS.md. Every child and the Redis are stopped at
 * the end, on a failure and on Ctrl-C.
 *
 * Options: `--quick`; `--only submit,fetch,…` (figures: submit, fetch, e2e, latency, memory,
 * inflight, scaling; a partial run prints but writes nothing); `--log-level <level>` for relayq's
 * processes (default info, relayq's own default); `--profile` also takes a CPU profile of the
 * API under submit load and counts Redis round trips per submit (bench/lib/profile.ts);
 * `--profile-fetch` does the same under the fetch figure's load (printed only); `--profile-worker`
 * runs every worker child with `--cpu-prof` and prints where its CPU went; `--keep-logs` keeps the
 * children's logs (kept anyway after a failure or with a profile).
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BenchContext, Figure } from './lib/figure.js';
import { fetchFigure, latencyFigure, submitFigure } from './lib/http-figures.js';
import { memoryFigures } from './lib/memory.js';
import { killAllNow, LOG_DIR, stopAll } from './lib/procs.js';
import { profileFetch, profileSubmit, reportWorkerProfiles, WORKER_PROFILE_DIR, type SubmitProfile } from './lib/profile.js';
import { setWorkerNodeArgs } from './lib/relayq.js';
import { startRedis, type BenchRedis } from './lib/redis.js';
import { machineInfo, table, writeReport, type Results } from './lib/report.js';
import { e2eFigure, inflightFigures, scalingFigure } from './lib/worker-figures.js';

const STEPS: Record<string, (ctx: BenchContext) => Promise<Figure | Figure[]>> = {
  submit: submitFigure,
  fetch: fetchFigure,
  e2e: e2eFigure,
  latency: latencyFigure,
  memory: memoryFigures,
  inflight: inflightFigures,
  scaling: scalingFigure,
};

const say = (line: string) => void process.stdout.write(`${line}\n`);

function summary(f: Figure): string {
  const base = f.baseline === null ? '' : `  baseline ${f.baseline.toLocaleString('en')}  ratio ${f.ratio}×`;
  return `${f.met ? 'met   ' : 'MISSED'}  ${f.title}: ${f.value.toLocaleString('en')} ${f.unit}${base}  (target ${f.target.text})`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      profile: { type: 'boolean', default: false },
      'profile-fetch': { type: 'boolean', default: false },
      'profile-worker': { type: 'boolean', default: false },
      'keep-logs': { type: 'boolean', default: false },
    },
  });
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(STEPS);
  const unknown = only.filter((s) => !STEPS[s]);
  if (unknown.length) throw new Error(`unknown figure(s) ${unknown.join(', ')}; known: ${Object.keys(STEPS).join(', ')}`);
  const quick = values.quick;
  if (values['profile-worker']) setWorkerNodeArgs(['--cpu-prof', `--cpu-prof-dir=${WORKER_PROFILE_DIR}`]);
  let redis: BenchRedis | null = null;
  try {
    redis = await startRedis();
    let n = 0;
    const ctx: BenchContext = {
      redis,
      quick,
      loadSeconds: quick ? 3 : 10,
      logLevel: values['log-level'],
      prefix: (name) => `bench-${name}-${++n}`,
      say,
    };
    const startedAt = new Date().toISOString();
    const machine = machineInfo(redis.version);
    say(`relayq bench (${quick ? 'quick' : 'full'}): ${machine.cores} × ${machine.cpu}, Node ${machine.node}, Redis ${machine.redis} on ${redis.url}; logs of child processes in ${LOG_DIR}`);
    const figures: Figure[] = [];
    const errors: Results['errors'] = [];
    for (const name of only) {
      say(`${name} …`);
      try {
        const made = await STEPS[name]!(ctx);
        for (const f of Array.isArray(made) ? made : [made]) {
          figures.push(f);
          say(`  ${summary(f)}`);
          say(`    ${JSON.stringify(f.details)}`);
        }
      } catch (err) {
        errors.push({ figure: name, error: (err as Error).message.split('\n')[0] ?? String(err) });
        say(`  ${name} failed: ${(err as Error).stack ?? String(err)}`);
        await stopAll();
        await redis.client.flushall();
      }
    }
    let profile: SubmitProfile | undefined;
    if (values.profile) {
      say('profile …');
      try {
        profile = await profileSubmit(ctx);
      } catch (err) {
        errors.push({ figure: 'profile', error: (err as Error).message.split('\n')[0] ?? String(err) });
        say(`  profile failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
    if (values['profile-fetch']) {
      say('profile of fetch …');
      try {
        await profileFetch(ctx);
      } catch (err) {
        errors.push({ figure: 'profile-fetch', error: (err as Error).message.split('\n')[0] ?? String(err) });
        say(`  profile of fetch failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
    if (values['profile-worker']) reportWorkerProfiles(ctx);
    say(`\n${table(figures)}\n`);
    if (only.length === Object.keys(STEPS).length) {
      await writeReport({ startedAt, finishedAt: new Date().toISOString(), mode: quick ? 'quick' : 'full', logLevel: ctx.logLevel, machine, figures, errors, profile });
      say('wrote bench/results.json, bench/chart.svg and BENCHMARKS.md');
    } else {
      say('partial run (--only): nothing written');
    }
    // The children's logs (and the CPU profile) stay for a look when something failed or was asked for.
    const profiled = values.profile || values['profile-fetch'] || values['profile-worker'];
    if (errors.length === 0 && !values['keep-logs'] && !profiled) rmSync(LOG_DIR, { recursive: true, force: true });
    else say(`logs of the child processes${profiled ? ' and the CPU profile' : ''}: ${LOG_DIR}`);
    return errors.length ? 1 : 0;
  } finally {
    await stopAll();
    await redis?.stop();
  }
}

// Ctrl-C or a kill: every child and the Redis go first (synchronously), whatever main was doing.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllNow();
    process.stderr.write(`relayq bench: ${signal}, stopped every child process\n`);
    process.exit(130);
  });
}
process.on('exit', killAllNow);

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`relayq bench: ${(err as Error).stack ?? String(err)}\n`);
    killAllNow();
    process.exit(1);
  },
);
