import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where `api/`, `worker/` and `bench/` live). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A child process the harness started; every one is stopped by `stopAll`. */
export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The file its stdout and stderr go to. */
  logFile: string;
  /** The last 64 KiB of what it wrote to stdout and stderr. */
  output(): string;
  /** Resolves with the first match of `re` in its output; rejects when it exits first or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const children = new Set<Child>();
/** Children that outlive `stopAll` (the Redis): stopped by their owner, killed by `killAllNow`. */
const lasting = new Set<Child>();

/** Where children's output goes: one file each in a folder of this run (kept for a look after a failure). */
export const LOG_DIR = mkdtempSync(join(tmpdir(), 'relayq-bench-'));
let seq = 0;

/**
 * Starts `node [nodeArgs] --import tsx <entry>` from the repository root with exactly `env` (plus
 * PATH and HOME), in its own process group so that stopping it stops anything it started.
 */
export function startNode(name: string, entry: string, env: Record<string, string>, nodeArgs: string[] = []): Child {
  return spawnLogged(name, process.execPath, [...nodeArgs, '--import', 'tsx', entry], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env });
}

/** Starts any command as a child that `stopAll` leaves running (the redis-server of the run). */
export function startLasting(name: string, command: string, args: string[]): Child {
  const child = spawnLogged(name, command, args, process.env);
  children.delete(child);
  lasting.add(child);
  return child;
}

/**
 * Output goes to a file, not a pipe: the harness never spends its own CPU reading a busy
 * process's log lines, and a child never blocks on a full pipe.
 */
function spawnLogged(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const logFile = join(LOG_DIR, `${String(++seq).padStart(2, '0')}-${name}.log`);
  const fd = openSync(logFile, 'a');
  try {
    const proc = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd], detached: true });
    return track(name, proc, logFile);
  } finally {
    closeSync(fd);
  }
}

/** The last `bytes` of a file. */
function tail(file: string, bytes = 65536): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

function track(name: string, proc: ChildProcess, logFile: string): Child {
  if (proc.pid === undefined) throw new Error(`${name} did not start`);
  const output = () => tail(logFile);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    logFile,
    output,
    async waitFor(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const out = output();
        const m = re.exec(out);
        if (m) return m;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited before ${re}:\n${out.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${name}: no ${re} within ${timeoutMs} ms:\n${out.slice(-2000)}`);
        await sleep(25);
      }
    },
    async stop(graceMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        signalGroup(proc.pid!, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(proc.pid!, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Whatever it started (its group) goes with it.
      signalGroup(proc.pid!, 'SIGKILL');
      children.delete(child);
      lasting.delete(child);
    },
  };
  children.add(child);
  return child;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Stops every child still running but the lasting ones (in parallel). Safe to call more than once. */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...children].map((c) => c.stop(graceMs)));
}

/** Kills every child at once, synchronously (for process exit paths that cannot wait). */
export function killAllNow(): void {
  for (const c of [...children, ...lasting]) signalGroup(c.pid, 'SIGKILL');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident set size of a process, in bytes (Linux `/proc/<pid>/status` VmRSS); 0 when unknown. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used so far, in ms (Linux `/proc/<pid>/stat`); 0 when unknown. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until stopped: the peak and the last value, in bytes. */
export function sampleRss(pid: number, everyMs = 250): { stop(): { peak: number; last: number } } {
  let peak = 0;
  let last = 0;
  const tick = () => {
    last = rssBytes(pid);
    peak = Math.max(peak, last);
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return { peak, last };
    },
  };
}
