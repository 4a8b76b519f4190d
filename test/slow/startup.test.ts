import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { groupExited, killGroup, ROOT, run, runRole, type Proc } from '../support/proc.js';
import { freePort, hasRedisServer, redisAnswers } from '../support/redis.js';
import { client, mjUntil, waitFor } from '../support/stack.js';

const procs: Proc[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  procs.forEach((p) => killGroup(p));
  for (const c of cleanups) await c();
});
const prefix = () => `e${randomBytes(4).toString('hex')}`;
const KEY = 'acme:sk-0123456789';
/** Testcontainers would find a working Docker even with DOCKER_HOST pointing elsewhere. */
const dockerWorks = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;

/** A port something else listens on for the rest of the file. */
async function takenPort(): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => srv.close(resolve)));
  return (srv.address() as { port: number }).port;
}

const start = (env: Record<string, string>) => {
  const p = run('npm', ['start'], { SIM_MJ_DURATION_MS: '300', SIM_PORT: '0', PORT: '0', ...env });
  procs.push(p);
  return p;
};

/** stderr as lines, npm's own noise aside (npm prints nothing there when a script fails). */
const errLines = (p: Proc) => p.err().trim().split('\n').filter(Boolean);

describe('start-up checks Redis and binds its port before it starts any work', () => {
  it('npm start with its port taken exits 1 with one line, no key printed and nothing in Redis', async () => {
    const port = await takenPort();
    const qp = prefix();
    const p = start({ REDIS_URL: inject('redisUrl'), PORT: String(port), QUEUE_PREFIX: qp });
    expect(await p.exited).toBe(1);
    expect(errLines(p)).toEqual([`relayq single-node: cannot start: port ${port} is in use on 127.0.0.1: stop what listens there or set PORT`]);
    expect(p.out()).not.toMatch(/sk-[A-Za-z0-9]{40}/);
    expect(p.out()).not.toMatch(/SIMULATOR|workers started/);
    const redis = new Redis(inject('redisUrl'));
    const [, keys] = await redis.scan(0, 'MATCH', `${qp}*`, 'COUNT', 10_000);
    redis.disconnect();
    expect(keys).toEqual([]); // no BullMQ queue was ever opened on this prefix
  });

  it('npm start with REDIS_URL unreachable says why in one line, with no stack trace, no password and no Redis of its own', async () => {
    const port = await freePort();
    // LOCAL_REDIS_PORT on the same port: a private Redis started by mistake would make this pass.
    const p = start({ REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`, LOCAL_REDIS_PORT: String(port) });
    expect(await p.exited).toBe(1);
    expect(errLines(p)).toEqual([`relayq single-node: cannot start: Redis unreachable at redis://***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
    expect(p.out()).not.toMatch(/sk-[A-Za-z0-9]{40}|redis-server/);
    expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
  });

  it.each([
    ['api/main.ts', 'api'],
    ['worker/main.ts', 'worker'],
  ])('%s with Redis down says why in one line, with no stack trace', async (entry, role) => {
    const port = await freePort();
    const p = runRole(entry, { REDIS_URL: `redis://127.0.0.1:${port}`, API_KEYS: KEY, PORT: '0' });
    expect(await p.exited).toBe(1);
    expect(errLines(p)).toEqual([`relayq ${role}: cannot start: Redis unreachable at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
  });

  it('the API with its port taken exits 1 with one line', async () => {
    const port = await takenPort();
    const p = runRole('api/main.ts', { REDIS_URL: inject('redisUrl'), API_KEYS: KEY, PORT: String(port) });
    expect(await p.exited).toBe(1);
    expect(errLines(p)).toEqual([`relayq api: cannot start: port ${port} is in use on 127.0.0.1: stop what listens there or set PORT`]);
  });

  it('the simulator with SIM_PORT taken exits 1 with one line', async () => {
    const port = await takenPort();
    const p = runRole('sim/main.ts', { SIM_PORT: String(port) });
    expect(await p.exited).toBe(1);
    expect(errLines(p)).toEqual([`relayq sim: cannot start: port ${port} is in use on 127.0.0.1: stop what listens there or set SIM_PORT`]);
  });
});

describe('npm start and SIM_PORT', () => {
  it('runs the simulator on SIM_PORT, where faults can be injected', async () => {
    const simPort = await freePort();
    const p = start({ REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: prefix(), SIM_PORT: String(simPort) });
    await p.waitForOutput(/listening on http/);
    expect(p.out()).toContain(`upstream SIMULATOR (results are simulated): http://127.0.0.1:${simPort}`);
    const res = await fetch(`http://127.0.0.1:${simPort}/_sim/faults`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    killGroup(p, 'SIGTERM');
    await groupExited(p);
  });

  it('moves the simulator to a free port and says so when SIM_PORT is taken', async () => {
    const simPort = await takenPort();
    const p = start({ REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: prefix(), SIM_PORT: String(simPort) });
    const [, url] = await p.waitForOutput(/upstream SIMULATOR \(results are simulated\): (http:\/\/\S+)/);
    expect(url).not.toBe(`http://127.0.0.1:${simPort}`);
    expect(p.out()).toMatch(new RegExp(`"simPort":${simPort}.*"msg":"SIM_PORT is in use: the simulator listens on a free port instead`));
    expect((await fetch(`${url}/_sim/faults`, { method: 'DELETE' })).status).toBe(200);
    killGroup(p, 'SIGTERM');
    await groupExited(p);
  });
});

describe.skipIf(!hasRedisServer())('npm start with no Redis at the default address', () => {
  /** A "default address" of this test's own (LOCAL_REDIS_PORT), so the machine's Redis is never touched. */
  async function privateRun() {
    const port = await freePort();
    const dir = join(ROOT, '.relayq', 'redis', String(port));
    cleanups.push(async () => {
      const r = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null });
      r.on('error', () => undefined);
      await r.connect().then(() => r.shutdown('NOSAVE')).catch(() => undefined);
      r.disconnect();
      rmSync(dir, { recursive: true, force: true });
    });
    return { port, dir, url: `redis://127.0.0.1:${port}`, env: { LOCAL_REDIS_PORT: String(port), QUEUE_PREFIX: prefix() } };
  }

  it('starts a private redis-server (AOF, noeviction, project folder), serves an imagine, and stops it on SIGTERM', async () => {
    const { url, dir, env } = await privateRun();
    const p = start(env);
    const [, key] = await p.waitForOutput(/^\s+(sk-[A-Za-z0-9]{40})$/m);
    const [, api] = await p.waitForOutput(/listening on (http:\/\/\S+)/);
    expect(p.out()).toContain(`Redis: ${url}, a private redis-server started for this run (data in .relayq/redis/`);
    const r = new Redis(url);
    expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await r.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await r.config('GET', 'dir')).toEqual(['dir', dir]);
    expect(await r.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    r.disconnect();
    const call = client(api!);
    const sub = await call('POST', '/mj/submit/imagine', { key: key!, body: { prompt: 'a fox in the snow' } });
    expect(sub.body.code).toBe(1);
    await mjUntil(call, sub.body.result, ['SUCCESS'], key!);
    killGroup(p, 'SIGTERM');
    await groupExited(p);
    await waitFor(async () => !(await redisAnswers(url)), { what: 'the private redis-server to stop' });
    expect(p.out()).toMatch(/"msg":"private redis-server stopped"/);
  });

  it('is not blocked by a private redis-server that a killed run left behind', async () => {
    const { url, env } = await privateRun();
    const first = start(env);
    await first.waitForOutput(/listening on http/);
    killGroup(first, 'SIGKILL'); // relayq dies without stopping its Redis
    await groupExited(first);
    expect(await redisAnswers(url)).toBe(true);
    const second = start(env);
    await second.waitForOutput(/listening on http/);
    expect(second.out()).toMatch(/"msg":"stopped the private redis-server an earlier run left behind"/);
    killGroup(second, 'SIGTERM');
    await groupExited(second);
    await waitFor(async () => !(await redisAnswers(url)), { what: 'the private redis-server to stop' });
  });
});

it.skipIf(dockerWorks)('single-node start says in one line how to get Redis when there is no redis-server on PATH and no Docker', async () => {
  const port = await freePort();
  // PATH holds node and nothing else; DOCKER_HOST points nowhere, so Testcontainers finds no Docker.
  const bin = mkdtempSync(join(tmpdir(), 'relayq-path-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  cleanups.push(() => rmSync(bin, { recursive: true, force: true }));
  const p = run(join(bin, 'node'), ['--import', 'tsx', 'bin/start.ts'], { PATH: bin, DOCKER_HOST: 'unix:///nonexistent/docker.sock', LOCAL_REDIS_PORT: String(port), PORT: '0' });
  procs.push(p);
  expect(await p.exited).toBe(1);
  expect(errLines(p)).toEqual([
    `relayq single-node: cannot start: no Redis at redis://127.0.0.1:${port}, and neither a redis-server on PATH nor a working Docker to start one: install Redis (apt install redis-server, brew install redis), or run docker run -d -p ${port}:6379 redis:7, or set REDIS_URL`,
  ]);
});
