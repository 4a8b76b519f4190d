import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../shared/config.js';
import { killGroup, ROOT, run, type Proc } from '../support/proc.js';
import { waitFor } from '../support/stack.js';

/**
 * The container set-up as written in Dockerfile, docker-compose.yml and .dockerignore, checked
 * without a Docker engine: the containers' commands are run here as they are written, with node
 * as PID 1 of its own PID namespace where `unshare` allows it (as in a container).
 */

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/**
 * docker-compose.yml after Compose's `${VAR:-default}` / `${VAR:?error}` interpolation with `env`,
 * nested defaults (`${A:-${B:-x}}`) included: the innermost is read first.
 */
function compose(env: Record<string, string> = {}): { services: Record<string, any> } {
  let text = read('docker-compose.yml');
  const one = /\$\{(\w+)(?::?([-?])([^{}]*))?\}/;
  for (let m = one.exec(text); m; m = one.exec(text)) {
    const [whole, name, op, arg = ''] = m as unknown as [string, string, string | undefined, string | undefined];
    let value: string;
    if (env[name]) value = env[name];
    else if (op === '?') throw new Error(`${name} is required: ${arg}`);
    else value = op === '-' ? arg : '';
    text = text.slice(0, m.index) + value + text.slice(m.index + whole.length);
  }
  return parse(text, { merge: true });
}

/** KEY=value lines of an env file (`text`, or the repository file `file`). */
const envLines = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const envFile = (file: string) => envLines(read(file));

/**
 * The environment Compose gives a service's container: its `env_file` entries (read from `files`
 * by path; a missing one is skipped when `required: false`, an error otherwise), then its
 * `environment`, which wins.
 */
function containerEnv(service: any, files: Record<string, Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of service.env_file ?? []) {
    const { path, required } = typeof entry === 'string' ? { path: entry, required: true } : entry;
    const vars = files[path];
    if (!vars && required !== false) throw new Error(`env_file ${path} is missing`);
    Object.assign(out, vars ?? {});
  }
  return { ...out, ...Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)])) };
}

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
    for (const name of ['api', 'worker']) expect(JSON.stringify(containerEnv(plain[name], { '.env': envFile('.env.example') })), name).not.toMatch(/sim:/);
    expect(envFile('.env.demo').COMPOSE_PROFILES).toBe('demo');
  });

  it('gives api and worker every variable of .env, over which compose sets only REDIS_URL, HOST and PORT', () => {
    const dotEnv = {
      ...envFile('.env.example'),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      SYNC_WAIT_SECONDS: '30',
      UPSTREAM_TIMEOUT_SECONDS: '120',
      RATE_LIMIT_PER_MINUTE: '60',
      CORS_ORIGINS: 'https://app.example.com',
      OPENAI_UPSTREAM_KEY: 'sk-up-0123456789',
      REDIS_URL: 'redis://127.0.0.1:6379',
      HOST: '127.0.0.1',
      PORT: '9999',
    };
    const { services } = compose(dotEnv);
    for (const name of ['api', 'worker']) {
      expect(services[name].env_file, name).toEqual([{ path: '.env', required: false }]);
      const env = containerEnv(services[name], { '.env': dotEnv });
      expect(env, name).toMatchObject({ REDIS_URL: 'redis://redis:6379', OPENAI_UPSTREAM_URL: 'https://api.openai.com/v1', OPENAI_UPSTREAM_KEY: 'sk-up-0123456789' });
      // relayq itself reads them: every name is a setting it knows.
      const config = loadConfig(env);
      expect(config, name).toMatchObject({ WEBHOOK_ALLOW_PRIVATE: true, SYNC_WAIT_SECONDS: 30, UPSTREAM_TIMEOUT_SECONDS: 120, RATE_LIMIT_PER_MINUTE: 60, CORS_ORIGINS: ['https://app.example.com'] });
    }
    expect(containerEnv(services.api, { '.env': dotEnv })).toMatchObject({ HOST: '0.0.0.0', PORT: '8080' });
    // No .env at all (API_KEYS from the shell): compose still starts.
    expect(containerEnv(compose({ API_KEYS: 'acme:sk-0123456789' }).services.worker, {})).toMatchObject({ API_KEYS: 'acme:sk-0123456789' });
  });

  it('runs the demo from .env.demo alone: its upstreams and keys reach the containers, whatever .env says', () => {
    const demoEnv = envFile('.env.demo');
    const { services } = compose(demoEnv);
    const worker = containerEnv(services.worker, { '.env.demo': demoEnv, '.env': { UPSTREAMS_FILE: '/app/real-channels.yaml', MJ_UPSTREAM_URL: 'https://mj.example.com' } });
    expect(worker).toMatchObject({ MJ_UPSTREAM_URL: 'http://sim:8090', OPENAI_UPSTREAM_URL: 'http://sim:8090/v1', MJ_UPSTREAM_SECRET: demoEnv.MJ_UPSTREAM_SECRET });
    expect(worker.UPSTREAMS_FILE).toBeUndefined();
    // The simulator checks the MJ secret the worker sends.
    expect(services.sim.environment.MJ_UPSTREAM_SECRET).toBe(demoEnv.MJ_UPSTREAM_SECRET);
  });

  it('makes PUBLIC_URL and SIM_PUBLIC_URL follow the published ports unless they are set', () => {
    const moved = compose({ API_KEYS: 'acme:sk-0123456789', API_PORT: '9090', SIM_HOST_PORT: '9091' }).services;
    expect(moved.api.ports).toEqual(['9090:8080']);
    expect(moved.api.environment.PUBLIC_URL).toBe('http://localhost:9090');
    expect(moved.worker.environment.PUBLIC_URL).toBe('http://localhost:9090');
    expect(moved.sim.ports).toEqual(['9091:8090']);
    expect(moved.sim.environment.SIM_PUBLIC_URL).toBe('http://localhost:9091');
    const set = compose({ API_KEYS: 'acme:sk-0123456789', PUBLIC_URL: 'https://relayq.example.com', SIM_PUBLIC_URL: 'http://demo.example.com:8090' }).services;
    expect(set.worker.environment.PUBLIC_URL).toBe('https://relayq.example.com');
    expect(set.sim.environment.SIM_PUBLIC_URL).toBe('http://demo.example.com:8090');
    expect(compose(envFile('.env.demo')).services.sim.environment.SIM_PUBLIC_URL).toBe('http://localhost:8090');
  });

  it('documents every variable relayq reads in .env.example, each set to a value relayq accepts', () => {
    const text = read('.env.example');
    const listed = new Set([...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
    const settings = Object.keys(loadConfig({})).filter((k) => /^[A-Z][A-Z0-9_]+$/.test(k));
    expect(settings.length).toBeGreaterThan(30);
    expect(settings.filter((k) => !listed.has(k))).toEqual([]);
    expect(listed.has('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(true);
    // The example values, commented ones included, are valid settings.
    const all = Object.fromEntries([...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(() => loadConfig({ ...all, UPSTREAMS_FILE: '', REDIS_CLUSTER_NODES: '' })).not.toThrow();
  });

  it('refuses to start without API_KEYS', () => {
    expect(() => compose({})).toThrow(/API_KEYS is required/);
  });
});

describe('what the containers say and answer, configured as the env files ship', () => {
  const procs: Proc[] = [];
  afterAll(() => procs.forEach((p) => killGroup(p)));
  const local = () => ({ REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: `c${randomBytes(4).toString('hex')}` });
  const start = (service: any, env: Record<string, string>) => {
    const p = run(service.command[0], service.command.slice(1), env);
    procs.push(p);
    return p;
  };
  const keyWarnings = (out: string) => out.split('\n').filter((l) => l.includes('upstream channel has an empty key'));

  it('the worker warns once at start that the OpenAI channel of .env.example has no key, naming it', async () => {
    const dotEnv = envFile('.env.example');
    const worker = compose(dotEnv).services.worker;
    const p = start(worker, { ...containerEnv(worker, { '.env': dotEnv }), ...local() });
    await p.waitForOutput(/"msg":"workers started"/);
    const warnings = keyWarnings(p.out());
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ channel: 'default-openai', type: 'openai', host: 'api.openai.com' });
    killGroup(p);
  });

  it('the demo worker, whose upstreams have keys, warns about none', async () => {
    const demoEnv = envFile('.env.demo');
    const worker = compose(demoEnv).services.worker;
    const p = start(worker, { ...containerEnv(worker, { '.env.demo': demoEnv }), ...local() });
    await p.waitForOutput(/"msg":"workers started"/);
    expect(keyWarnings(p.out())).toEqual([]);
    killGroup(p);
  });

  it('the demo simulator answers image URLs the host reaches (SIM_PUBLIC_URL), not http://sim:8090', async () => {
    const demoEnv = envFile('.env.demo');
    const sim = compose(demoEnv).services.sim;
    const p = start(sim, { ...sim.environment, HOST: '127.0.0.1', SIM_PORT: '0', SIM_MJ_DURATION_MS: '50' });
    const url = JSON.parse((await p.waitForOutput(/^\{.*"upstream simulator listening.*\}$/m))[0]).url as string;
    const images = (await (await fetch(`${url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"a fox"}' })).json()) as { data: { url: string }[] };
    expect(images.data[0]!.url).toMatch(/^http:\/\/localhost:8090\/sim\/image\/\w+\.png$/);
    const headers = { 'content-type': 'application/json', 'mj-api-secret': demoEnv.MJ_UPSTREAM_SECRET! };
    const submitted = (await (await fetch(`${url}/mj/submit/imagine`, { method: 'POST', headers, body: '{"prompt":"a fox"}' })).json()) as { result: string };
    const done = await waitFor(async () => {
      const t = (await (await fetch(`${url}/mj/task/${submitted.result}/fetch`, { headers })).json()) as { status: string; imageUrl: string };
      return t.status === 'SUCCESS' ? t : null;
    });
    expect(done.imageUrl).toMatch(/^http:\/\/localhost:8090\/sim\/image\//);
    killGroup(p);
  });
});

describe('.dockerignore', () => {
  it('keeps secrets, local state and test output out of the image', () => {
    const lines = read('.dockerignore').split('\n');
    for (const p of ['.env', '.env.*', '!.env.example', '.git', 'node_modules', '.relayq', 'coverage', 'test-results*.json', 'bench/.tmp', 'upstreams.yaml', 'upstreams.json']) expect(lines, p).toContain(p);
  });
});
