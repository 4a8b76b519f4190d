import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type Sim } from '../../sim/server.js';
import type { SimForm } from '../../sim/openai.js';
import { PNG } from '../support/stack.js';

/** The simulator's own controls, over HTTP as a demo or a benchmark uses them. */
describe('the upstream simulator', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim({ mjDurationMs: 50 });
  });
  afterAll(() => sim.close());

  const edit = () => {
    const form = new FormData();
    form.append('prompt', 'a hat');
    form.append('image[]', new Blob([Buffer.from(PNG.split(',')[1]!, 'base64')], { type: 'image/png' }), 'a.png');
    form.append('image[]', new Blob([Buffer.from(PNG.split(',')[1]!, 'base64')], { type: 'image/png' }), 'b.png');
    return fetch(`${sim.url}/v1/images/edits`, { method: 'POST', body: form });
  };

  it('logs a multipart request once, with its parts', async () => {
    const from = sim.requests.length;
    expect((await edit()).status).toBe(200);
    const logged = sim.requests.slice(from);
    expect(logged.map((r) => [r.method, r.path])).toEqual([['POST', '/v1/images/edits']]);
    const body = logged[0]!.body as SimForm;
    expect(body.parts.map((p) => [p.name, p.filename])).toEqual([
      ['prompt', null],
      ['image[]', 'a.png'],
      ['image[]', 'b.png'],
    ]);
    expect(body.fields.prompt).toBe('a hat');
    const overHttp = (await (await fetch(`${sim.url}/_sim/requests`)).json()) as { method: string; path: string }[];
    expect(overHttp.filter((r) => r.path === '/v1/images/edits')).toHaveLength(1);
  });

  it('logs a refused multipart request once too', async () => {
    const from = sim.requests.length;
    const form = new FormData();
    form.append('prompt', 'no image');
    expect((await fetch(`${sim.url}/v1/images/edits`, { method: 'POST', body: form })).status).toBe(400);
    expect(sim.requests.slice(from).map((r) => [r.method, r.path])).toEqual([['POST', '/v1/images/edits']]);
  });

  it('empties its request log on DELETE /_sim/requests', async () => {
    await edit();
    const log = sim.requests;
    expect(log.length).toBeGreaterThan(0);
    const r = await fetch(`${sim.url}/_sim/requests`, { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(await (await fetch(`${sim.url}/_sim/requests`)).json()).toEqual([]);
    // In place: an in-process reference to the log sees it empty, and it fills again.
    expect(log).toHaveLength(0);
    await edit();
    expect(sim.requests.map((q) => q.path)).toEqual(['/v1/images/edits']);
    sim.clearRequests();
    expect(sim.requests).toHaveLength(0);
  });

  it('builds the image URLs it answers from the address each request came to, or from publicUrl', async () => {
    const generate = async (base: string) =>
      ((await (await fetch(`${base}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"a fox"}' })).json()) as { data: { url: string }[] }).data[0]!.url;
    expect(await generate(sim.url)).toMatch(new RegExp(`^${sim.url}/sim/image/`));
    const published = await startSim({ mjDurationMs: 50, publicUrl: 'http://localhost:18090/' });
    try {
      expect(await generate(published.url)).toMatch(/^http:\/\/localhost:18090\/sim\/image\/\w+\.png$/);
    } finally {
      await published.close();
    }
  });
});
