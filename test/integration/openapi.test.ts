import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNDOCUMENTED } from '../../api/openapi.js';
import { BOARD_PATH } from '../../api/routes/queues-board.js';
import { startStack, type Stack } from '../support/stack.js';

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; requestBody?: { content: Record<string, { example?: unknown; examples?: unknown; schema?: unknown }> }; responses?: Record<string, { content?: Record<string, { example?: unknown }> }> }>>;
}

/** `/v1/tasks/:id/fetch` and `/v1/models/*` as OpenAPI writes them. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');


describe('OpenAPI document and /docs', () => {
  let s: Stack;
  let doc: Doc;
  beforeAll(async () => {
    s = await startStack({ worker: false });
    const res = await s.call<Doc>('GET', '/openapi.json', { key: null });
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(() => s?.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  // Deliberately left out: the reference's own pages and assets, the CORS preflight answer
  // (UNDOCUMENTED), and the queue dashboard's pages and API (bull-board's, under BOARD_PATH).
  it('documents every registered route except the reference and the queue dashboard', async () => {
    // Fastify's own list, collected by an onRoute hook as routes are added.
    const routes = new Set(s.api.routes());
    expect(routes.size).toBeGreaterThan(40);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    const missing = [...routes].filter((r) => {
      const [method, url] = r.split(' ') as [string, string];
      return !UNDOCUMENTED.includes(url) && url !== BOARD_PATH && !url.startsWith(`${BOARD_PATH}/`) && !documented.has(`${method} ${openApiPath(url)}`);
    });
    expect(missing).toEqual([]);
  });

  it('documents a 401 for every operation that needs a key, and none for the open ones', () => {
    const keyed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ op: `${method} ${path}`, open: Array.isArray(op.security) && op.security.length === 0, has401: Boolean(op.responses?.['401']) })));
    expect(keyed.filter((o) => !o.open).length).toBeGreaterThan(40);
    expect(keyed.filter((o) => !o.open && !o.has401).map((o) => o.op)).toEqual([]);
    expect(keyed.filter((o) => o.open && o.has401 && !o.op.includes('/admin/login')).map((o) => o.op)).toEqual([]);
  });

  it('shows an example body for every JSON submit route', () => {
    const without: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const media = op.requestBody?.content['application/json'];
        if (media && media.example === undefined && media.examples === undefined) without.push(`${method} ${path}`);
      }
    }
    expect(without).toEqual([]);
  });

  it('serves the interactive reference at /docs and the README at /docs/readme, without a key', async () => {
    const ui = await fetch(`${s.api.url}/docs/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('<html');
    const readme = await s.call('GET', '/docs/readme', { key: null });
    expect(readme.status).toBe(200);
    expect(readme.body).toContain('/mj/submit/imagine');
  });

  it('keeps the family error formats: route schemas do not validate', async () => {
    const mj = await s.call('POST', '/mj/submit/imagine', { body: { prompt: 42 } });
    expect(mj.status).toBe(400);
    expect(mj.body).toMatchObject({ code: 4, description: expect.stringContaining('prompt') });
    const openai = await s.call('POST', '/v1/chat/completions', { body: { messages: 'hi' } });
    expect(openai.status).toBe(400);
    expect(openai.body.error).toMatchObject({ type: 'invalid_request_error' });
  });
});
