import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { killGroup, ROOT, run, type Proc } from '../support/proc.js';
import { waitFor } from '../support/stack.js';

/**
 * The container set-up as written in Dockerfile, docker-compose.yml and .dockerignore, checked
 * without a Docker engine: the containers' commands are run here as they are written, with node
 * as PID 1 of its own PID namespace where `unshare` allows it (as in a container).
 */

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** docker-compose.yml after Compose's `${VAR:-default}` / `${VAR:?error}` interpolation with `env`. */
function compose(env: Record<string, string> = {}): { services: Record<string, any> } {
  const text = read('docker-compose.yml').replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg = '') => {
    if (env[name]) return env[name];
    if (op === '?') throw new Error(`${name} is required: ${arg}`);
    return op === '-' ? arg : '';
  });
  return parse(text, { merge: true });
}

/** KEY=value lines of an env file. */
const envFile = (file: string) =>
  Object.fromEntries(
    read(file)
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

const dockerCmd = () => JSON.parse(/^CMD (\[.*\])$/m.exec(read('Dockerfile'))![1]!) as string[];
const relayqServices = ['api', 'worker', 'sim'] as const;

describe('the containers run relayq itself', () => {
  it('starts node directly, never npm, in the Dockerfile and in every relayq service', () => {
    const { services } = compose({ API_KEYS: 'acme:sk-0123456789' });
    expect(dockerCmd()).toEqual(services.api.command);
    for (const name of relayqServices) {
      const cmd: string[] = services[name].command;
      expect(cmd[0], name).toBe('node');
      expect(cmd.join(' '), name).not.toMatch(/\bnpm\b/);
    }
  });

  const procs: Proc[] = [];
  afterAll(() => procs.forEach((p) => killGroup(p)));
  // unshare makes node PID 1 of a new PID namespace, as in a container: the kernel then drops
  // every signal it has no handler for.
  const asPid1 = spawnSync('unshare', ['--pid', '--fork', 'true'], { stdio: 'ignore' }).status === 0;

  it.each(relayqServices)(`the %s service's command exits 0 on a SIGTERM to that one process${asPid1 ? ' running as PID 1' : ''}`, async (name) => {
    const cmd: string[] = compose({ API_KEYS: 'acme:sk-0123456789' }).services[name].command;
    const env = { REDIS_URL: inject('redisUrl'), API_KEYS: 'acme:sk-0123456789', QUEUE_PREFIX: `c${randomBytes(4).toString('hex')}`, PORT: '0', SIM_PORT: '0' };
    const p = asPid1 ? run('unshare', ['--pid', '--fork', '--kill-child', ...cmd], env) : run(cmd[0]!, cmd.slice(1), env);
    procs.push(p);
    await p.waitForOutput(name === 'worker' ? /"msg":"workers started"/ : /listening/);
    // The relayq process: unshare's only child, or the process itself.
    const pid = asPid1 ? Number(readFileSync(`/proc/${p.child.pid}/task/${p.child.pid}/children`, 'utf8').trim()) : p.child.pid!;
    if (asPid1) expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
    process.kill(pid, 'SIGTERM');
    expect(await p.exited).toBe(0);
    await waitFor(async () => /"signal":"SIGTERM","msg":"shutting down"/.test(p.out()), { what: 'the shutdown log' });
  });
});

describe('docker-compose.yml', () => {
  it('builds one image once and runs api, worker and simulator from it', () => {
    const { services } = compose({ API_KEYS: 'acme:sk-0123456789' });
    const built = Object.entries(services).filter(([, s]) => s.build);
    expect(built.map(([n]) => n)).toEqual(['api']);
    for (const name of relayqServices) expect(services[name].image, name).toBe(services.api.image);
    expect(services.worker.pull_policy).toBe('never');
  });

  it('keeps workers scalable: no container names, no host ports on workers', () => {
    const { services } = compose({ API_KEYS: 'acme:sk-0123456789' });
    for (const [name, s] of Object.entries(services)) expect(s.container_name, name).toBeUndefined();
    expect(services.worker.ports).toBeUndefined();
  });

  it('has a health check on every service, in node for the relayq ones (the image has no curl)', () => {
    const { services } = compose({ API_KEYS: 'acme:sk-0123456789' });
    for (const [name, s] of Object.entries(services)) {
      expect(s.healthcheck?.test, name).toBeDefined();
      expect(s.healthcheck.start_period, name).toBeDefined(); // a stale status must not fail a restart
      if (relayqServices.includes(name as never)) expect(s.healthcheck.test.slice(0, 2), name).toEqual(['CMD', 'node']);
    }
    expect(services.api.healthcheck.test.join(' ')).toContain('/readyz');
  });

  it('runs Redis with AOF on and noeviction', () => {
    const cmd: string[] = compose({ API_KEYS: 'acme:sk-0123456789' }).services.redis.command;
    expect(cmd.join(' ')).toMatch(/--appendonly yes/);
    expect(cmd.join(' ')).toMatch(/--maxmemory-policy noeviction/);
  });

  it('points no upstream at the simulator unless the demo is asked for', () => {
    const plain = compose({ API_KEYS: 'acme:sk-0123456789' }).services;
    expect(plain.sim.profiles).toEqual(['demo']);
    for (const name of ['api', 'worker']) expect(JSON.stringify(plain[name].environment), name).not.toMatch(/sim:/);
    const demoEnv = envFile('.env.demo');
    expect(demoEnv.COMPOSE_PROFILES).toBe('demo');
    const demo = compose(demoEnv).services.worker.environment;
    expect(demo.MJ_UPSTREAM_URL).toBe('http://sim:8090');
    expect(demo.OPENAI_UPSTREAM_URL).toBe('http://sim:8090/v1');
  });

  it('passes the OpenAI upstream and PUBLIC_URL from .env to the worker', () => {
    const worker = compose({ ...envFile('.env.example'), OPENAI_UPSTREAM_KEY: 'sk-up', PUBLIC_URL: 'https://relayq.example.com' }).services.worker.environment;
    expect(worker).toMatchObject({ OPENAI_UPSTREAM_URL: 'https://api.openai.com/v1', OPENAI_UPSTREAM_KEY: 'sk-up', PUBLIC_URL: 'https://relayq.example.com' });
  });

  it('refuses to start without API_KEYS', () => {
    expect(() => compose({})).toThrow(/API_KEYS is required/);
  });
});

describe('.dockerignore', () => {
  it('keeps secrets, local state and test output out of the image', () => {
    const lines = read('.dockerignore').split('\n');
    for (const p of ['.env', '.env.*', '!.env.example', '.git', 'node_modules', '.relayq', 'coverage', 'test-results*.json', 'bench/.tmp']) expect(lines, p).toContain(p);
  });
});
