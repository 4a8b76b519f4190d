import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/proc.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

const BIN = join(ROOT, 'bin/relayq.js');

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Runs the `relayq` bin itself (its shebang, by absolute path) from a directory outside the
 * project, with stdout a pipe (not a TTY), and resolves when it exits.
 */
function relayq(args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd: tmpdir(), env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('the relayq command line', () => {
  let s: Stack;
  let env: Record<string, string>;
  beforeAll(async () => {
    s = await startStack({ sim: { sunoDurationMs: 600, videoDurationMs: 600 } });
    env = { RELAYQ_URL: s.api.url, RELAYQ_API_KEY: KEYS.acme };
  });
  afterAll(async () => {
    await s?.close();
  });

  it('imagine --wait follows the task to SUCCESS and prints the image URL, in plain lines when stdout is no terminal', async () => {
    const r = await relayq(['imagine', 'a lighthouse at dusk', '--wait'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const id = /^task (\S+): /m.exec(r.out)?.[1];
    expect(id).toBeTruthy();
    const task = await s.call('GET', `/v1/tasks/${id}`);
    expect(task.body.status).toBe('succeeded');
    expect(r.out).toMatch(new RegExp(`^task ${id}: running$`, 'm'));
    expect(r.out).toMatch(new RegExp(`^task ${id}: succeeded$`, 'm'));
    expect(r.out.trimEnd().split('\n').at(-1)).toBe(task.body.output.image_url);
    // No bar: no carriage returns or cursor escapes in a pipe.
    expect(r.out).not.toContain('\r');
    expect(r.out).not.toContain('\u001b[');
  });

  it('imagine without --wait prints the task id, and tasks lists it', async () => {
    const r = await relayq(['imagine', 'a red fox'], env);
    expect(r.code).toBe(0);
    const id = r.out.trim();
    expect((await s.call('GET', `/v1/tasks/${id}`)).body.kind).toBe('mj.imagine');
    const list = await relayq(['tasks', '--kind', 'mj.imagine'], env);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^ID\s+KIND\s+STATUS\s+PROGRESS\s+CREATED$/);
    expect(list.out).toMatch(new RegExp(`^${id}\\s+mj\\.imagine\\s+`, 'm'));
  });

  it('watch shows the progress of a task submitted elsewhere and prints its result', async () => {
    const submit = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a quiet harbour' } });
    const id = submit.body.result as string;
    const r = await relayq(['watch', id, '--url', s.api.url, '--key', KEYS.acme], {});
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^task ${id}: \\d+%$`, 'm'));
    expect(r.out).toMatch(new RegExp(`^task ${id}: 100%$`, 'm'));
    expect(r.out).toMatch(/^https?:\/\/\S+$/m);
  });

  it('watch of a failed task exits 1 with the task\'s error', async () => {
    s.sim.faults.add({ route: 'submit', kind: 'body', body: { error: { message: 'token quota is not enough', type: 'new_api_error', code: 'insufficient_user_quota' } }, times: 1 });
    const submit = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 'a failing prompt' } });
    const id = submit.body.result as string;
    const r = await relayq(['watch', id], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^relayq: task ${id} failed: token quota is not enough\\n$`));
  });

  it('suno --wait follows a music task and prints its clip URLs', async () => {
    const r = await relayq(['suno', 'a song about the sea', '--tags', 'folk', '--wait'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const id = /^task (\S+): succeeded$/m.exec(r.out)?.[1];
    const task = await s.call('GET', `/v1/tasks/${id}`);
    expect(task.body).toMatchObject({ kind: 'suno.music', status: 'succeeded' });
    expect(r.out).toContain(`\n${task.body.output.clips[0].audio_url}\n`);
  });

  it('video --wait follows a video task and prints where to read it', async () => {
    const r = await relayq(['video', 'waves at night', '--seconds', '4', '--wait'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const id = /^task (\S+): succeeded$/m.exec(r.out)?.[1];
    expect((await s.call('GET', `/v1/tasks/${id}`)).body).toMatchObject({ kind: 'video.generation', status: 'succeeded' });
    expect(r.out.trimEnd().split('\n').at(-1)).toBe(`${s.api.url}/v1/videos/${id}/content`);
  });

  it('chat streams the answer to stdout', async () => {
    const r = await relayq(['chat', 'hello there', '--model', 'sim-chat'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe('Echo: hello there\n');
  });

  it('chat writes each token as it arrives, before the answer is complete', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'stream', chunks: 4, intervalMs: 400, times: 1 });
    const child = spawn(BIN, ['chat', 'count', '--model', 'sim-chat'], { cwd: tmpdir(), env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    // The first token is on stdout while later ones are still to come from the upstream.
    await waitFor(async () => out.includes('t1'), { what: 'the first token', timeoutMs: 20_000 });
    expect(out).not.toContain('t4');
    expect(await exited).toBe(0);
    expect(out.replace(/\s+/g, ' ').trim()).toBe('t1 t2 t3 t4');
  });

  it('chat reports an error event of the stream and exits 1', async () => {
    s.sim.faults.add({ route: 'openai', kind: 'stream', chunks: 3, errorAfter: 1, error: { error: { message: 'the model is overloaded', type: 'server_error' } }, times: 1 });
    const r = await relayq(['chat', 'hi', '--model', 'sim-chat'], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^relayq: chat failed: .*overloaded.*\n$/);
  });

  it('says relayq is not reachable, in one line, and exits 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await relayq(['tasks'], { RELAYQ_URL: url, RELAYQ_API_KEY: KEYS.acme });
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(`relayq: cannot reach relayq at ${url} (connection refused): is it running? Set --url or RELAYQ_URL\n`);
  });

  it('says the key was refused on a 401, and exits 1', async () => {
    const r = await relayq(['imagine', 'x', '--wait'], { RELAYQ_URL: s.api.url, RELAYQ_API_KEY: 'sk-not-a-key-0000' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^relayq: relayq refused the API key \(HTTP 401: .*\): set --key or RELAYQ_API_KEY\n$/);
  });
});
