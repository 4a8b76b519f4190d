import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A Redis this test run owns: it can be stopped and started again (fault tests). */
export interface LaunchedRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const hasRedisServer = () => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** Whether a Redis answers PING at this URL (one try, 500 ms to connect, never throws). */
export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  r.on('error', () => undefined);
  const ok = await r
    .connect()
    .then(() => r.ping())
    .then(() => true)
    .catch(() => false);
  r.disconnect();
  return ok;
}

async function waitReady(url: string, up: boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await redisAnswers(url)) === up) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`redis at ${url} did not become ${up ? 'ready' : 'unreachable'}`);
}

/** Starts `redis-server` from PATH on a free port with noeviction; with `persist`, AOF keeps data across restarts. */
export async function launchRedisServer(opts: { persist?: boolean } = {}): Promise<LaunchedRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'relayq-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const start = async () => {
    if (proc && proc.exitCode === null) return; // already running
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', opts.persist ? 'yes' : 'no', '--appendfsync', 'always', '--dir', dir, '--maxmemory-policy', 'noeviction'], {
      stdio: 'ignore',
    });
    await waitReady(url, true);
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGKILL');
    await exited;
    await waitReady(url, false);
  };
  await start();
  return {
    url,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis container, where Docker works and no redis-server binary is installed. */
export async function launchRedisContainer(): Promise<LaunchedRedis> {
  const { GenericContainer } = await import('testcontainers');
  const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
  const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  return {
    url,
    start: async () => {
      await container.restart();
    },
    stop: async () => {
      await container.stop({ remove: false });
    },
    close: async () => {
      await container.stop();
    },
  };
}

/** redis-server when on PATH, else Testcontainers. */
export const launchRedis = (opts: { persist?: boolean } = {}) => (hasRedisServer() ? launchRedisServer(opts) : launchRedisContainer());

export const hasRedisCli = () => spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;

/** A Redis Cluster of `n` masters on free ports, made with `redis-server` and `redis-cli --cluster create`. */
export async function launchRedisCluster(n = 3): Promise<{ nodes: string[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'relayq-cluster-'));
  const ports: number[] = [];
  const procs: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    ports.push(port);
    const d = join(dir, String(port));
    mkdirSync(d);
    procs.push(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--save', '', '--appendonly', 'no', '--dir', d], { stdio: 'ignore' }),
    );
  }
  for (const port of ports) await waitReady(`redis://127.0.0.1:${port}`, true);
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
  // Every node must agree before clients connect.
  const deadline = Date.now() + 15_000;
  for (const port of ports) {
    for (;;) {
      const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster node ${port} never became ok`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`),
    async close() {
      await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : (p.once('exit', res), p.kill('SIGKILL'))))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
