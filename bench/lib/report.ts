import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import type { Figure } from './figure.js';
import type { SubmitProfile } from './profile.js';
import { ROOT } from './procs.js';

/** The machine a run measured, for results.json and BENCHMARKS.md. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGB: number;
  os: string;
  node: string;
  redis: string;
  /** 1-minute load average when the run started (other work on the machine). */
  loadAtStart: number;
}

export function machineInfo(redisVersion: string): MachineInfo {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    redis: redisVersion,
    loadAtStart: Number(loadavg()[0]?.toFixed(2)),
  };
}

/** A whole run: when, how, where, and every figure (or the error that stopped one). */
export interface Results {
  startedAt: string;
  finishedAt: string;
  mode: 'full' | 'quick';
  logLevel: string;
  machine: MachineInfo;
  figures: Figure[];
  errors: { figure: string; error: string }[];
  /** With `--profile`: where a submit's time goes in the API, and its Redis round trips. */
  profile?: SubmitProfile | undefined;
}

const fmt = (n: number | null) => (n === null ? '—' : n.toLocaleString('en'));

/** The table of BENCHMARKS.md and of the console summary. */
export function table(figures: Figure[]): string {
  const rows = figures.map((f) => `| ${f.title} | ${fmt(f.value)} ${f.unit} | ${f.baseline === null ? '—' : `${fmt(f.baseline)} ${f.unit}`} (${f.baselineLabel}) | ${f.ratio === null ? '—' : `${f.ratio}×`} | ${f.target.text} | ${f.met ? '✅ met' : '❌ missed'} |`);
  return ['| figure | relayq | baseline (same run) | ratio | target | result |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

/** Notes under the table: the per-figure details a reader needs to interpret the numbers. */
function notes(r: Results): string {
  const lines: string[] = [];
  for (const f of r.figures) {
    const d = f.details as Record<string, unknown>;
    if (f.id === 'submit' || f.id === 'fetch') {
      const rq = d.relayq as { p99Ms: number; p50Ms: number; cpuMsPerRequest: number };
      const b = d.baseline as { p99Ms: number; p50Ms: number; cpuMsPerRequest: number };
      const ms = (v: number) => Math.round(v * 10) / 10;
      lines.push(`- **${f.id}**: latency p50/p99 relayq ${ms(rq.p50Ms)}/${ms(rq.p99Ms)} ms, baseline ${ms(b.p50Ms)}/${ms(b.p99Ms)} ms; CPU per request relayq ${rq.cpuMsPerRequest} ms, baseline ${b.cpuMsPerRequest} ms (${d.connections} connections, ${d.seconds} s each).`);
    } else if (f.id === 'e2e') {
      const rq = d.relayq as { cpuMsPerJob: number };
      const b = d.baseline as { cpuMsPerJob: number };
      lines.push(`- **e2e**: ${d.queued} chat jobs queued for each side, drained in ${d.rounds} alternating rounds, concurrency ${d.concurrency} on both sides; worker CPU per job relayq ${rq.cpuMsPerJob} ms, baseline ${b.cpuMsPerJob} ms.`);
    } else if (f.id === 'latency') {
      lines.push(`- **latency**: p50 ${d.p50Ms} ms, p90 ${d.p90Ms} ms, p99 ${d.p99Ms} ms, max ${d.maxMs} ms over ${d.accepted} accepted of ${d.sent} submits sent at ${d.sentRatePerSec}/s, ${d.reachedUpstream} of which reached the upstream within ${r.mode === 'quick' ? 10 : 30} s after the last was sent (the others count with the time waited: a lower bound); one API and one worker process.`);
    } else if (f.id.startsWith('bytes')) {
      lines.push(`- **${f.id}**: per task ${JSON.stringify(d.byKind)} + shared ${d.sharedPerTask} B, from MEMORY USAGE of every key (INFO used_memory growth, ${d.usedMemoryPerTask} B/task, is only a rough cross-check: memory freed in the same window, such as finished jobs, offsets it); blobs ${d.blobsPerTask} B/task not counted; TTL after finishing ${JSON.stringify(d.ttlSeconds)} s. Everything stays until TASK_RETENTION_SECONDS (default ${d.taskRetentionSeconds} s = 7 days), so at a steady 1 finished task/s Redis holds about ${Math.round(Number(d.bytesAfter7DaysAt1TaskPerSec) / 2 ** 20)} MB of these.`);
    } else if (f.id === 'inflight-rss') {
      lines.push(`- **in flight**: ${d.inFlight} tasks (submitted upstream by the one worker at ${d.upstreamSubmitsPerSec}/s, ${d.workerCpuMsPerUpstreamSubmit} ms of worker CPU each; simulated tasks last ${Number(d.upstreamTaskMs) / 60000} min so that all are in flight at once), idle RSS ${d.idleRssMB} MB, peak ${d.peakRssMB} MB, worker CPU ${d.workerCpuPercent} %, ${d.progressReadsPerSec} progress reads/s of ${d.idsPerRead} ids each over ${d.windowSeconds} s.`);
    } else if (f.id === 'scaling') {
      const steps = d.steps as { workers: number; jobsPerSec: number; linear: number; ratio: number }[];
      lines.push(`- **scaling** (${d.textConcurrencyPerWorker} chat jobs at once per worker, ${d.upstreamLatencyMs} ms upstream): ${steps.map((x) => `${x.workers} → ${x.jobsPerSec} jobs/s (${x.ratio}× linear)`).join(', ')}.`);
    }
  }
  for (const e of r.errors) lines.push(`- **${e.figure}** was not measured: ${e.error}`);
  return lines.join('\n');
}

/** The `--profile` findings as a section of BENCHMARKS.md. */
function profileSection(p: SubmitProfile): string {
  const rows = (xs: [string, number][]) => xs.slice(0, 12).map(([k, us]) => `| \`${k.replace(/\|/g, '\\|')}\` | ${us} |`).join('\n');
  return `## Where a submit's time goes

A CPU profile of the API (\`node --cpu-prof\`) under the submit load (${p.submitsPerSecWhileProfiled} submits/s while profiled), self time per submit:

| package or file (self) | µs per submit |
|---|---|
${rows(p.areasUs)}

| package or file (callees included) | µs per submit |
|---|---|
${rows(p.inclusiveUs)}

| function | µs per submit |
|---|---|
${rows(p.functionsUs)}

Redis per submit: **${p.roundTripsPerSubmit} round trips**, ${p.commandsPerSubmit} commands (counted through a proxy and INFO commandstats; a Lua script's own calls count as commands):

\`\`\`
${p.oneSubmit.join('\n')}
\`\`\`

`;
}

/**
 * bench/GAPS.md, written by people: why the missed targets are missed, as measured (profiles,
 * round trips, bytes per key), and what was changed for them. Included in BENCHMARKS.md as is.
 */
function gaps(): string {
  const file = join(ROOT, 'bench', 'GAPS.md');
  return existsSync(file) ? `${readFileSync(file, 'utf8').trim()}\n\n` : '';
}

/** Writes bench/results.json, bench/chart.svg and BENCHMARKS.md at the repository root. */
export async function writeReport(r: Results): Promise<void> {
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
  const m = r.machine;
  const where = `${m.cores} × ${m.cpu}, ${m.memoryGB} GB, ${m.os}, Node ${m.node}, Redis ${m.redis}`;
  writeFileSync(join(ROOT, 'bench', 'chart.svg'), await renderChart(r.figures, `${r.mode} run, ${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC, ${m.cores} cores`));
  const md = `# Benchmarks

\`npm run bench\` (\`-- --quick\` for a short run, 2–3 minutes on 2 cores) starts its own Redis and upstream simulator,
runs relayq's API and worker as separate processes (\`node --import tsx api/main.ts\`,
\`worker/main.ts\`), and measures each figure next to a baseline from the same run on the same
machine. The ratio is what to compare across machines; the absolute numbers depend on the machine
and on whatever else runs on it.

This run: **${r.mode}** mode, LOG_LEVEL=${r.logLevel}, ${r.startedAt} → ${r.finishedAt} on ${where}; load average ${m.loadAtStart} at the start.

![relayq against its targets](bench/chart.svg)

${table(r.figures)}

${notes(r)}

${gaps()}${r.profile ? profileSection(r.profile) : ''}Every figure, baseline and detail is in [bench/results.json](bench/results.json).
`;
  writeFileSync(join(ROOT, 'BENCHMARKS.md'), md);
}
