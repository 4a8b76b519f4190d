import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { killGroup, run, waitFor, type Proc } from '../support/proc-tracing.js';
import { bullTelemetry } from '../../shared/telemetry/index.js';
import { run as runPlain } from '../support/proc.js';
import { KEYS } from '../support/stack.js';
import { startSim, type Sim } from '../../sim/server.js';

interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP receiver (JSON bodies) on a free port: every span posted to /v1/traces. */
async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const parsed = JSON.parse(body) as { resourceSpans: any[] };
        for (const rs of parsed.resourceSpans) {
          const service = rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value.stringValue;
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              const attributes = Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, Object.values(a.value)[0]]));
              spans.push({ service, name: s.name, kind: s.kind, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', attributes });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * API and worker as separate processes started the way the npm scripts start them, with the
 * tracing preload: one chat task is one trace from the API's request through the queue to the
 * worker's upstream call.
 */
describe('OpenTelemetry tracing across processes', () => {
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let sim: Sim;
  const procs: Proc[] = [];
  let apiUrl = '';
  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    sim = await startSim({ openaiKey: 'sk-upstream-0123456789' });
    const env = {
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: `t${randomBytes(5).toString('hex')}`,
      API_KEYS: `acme:${KEYS.acme}`,
      OPENAI_UPSTREAM_URL: `${sim.url}/v1`,
      OPENAI_UPSTREAM_KEY: 'sk-upstream-0123456789',
      PORT: '0',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      // Spans leave within a moment, not the SDK's default 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const api = run('api/main.ts', env);
    const worker = run('worker/main.ts', { ...env, WORKER_QUEUES: 'text' });
    procs.push(api, worker);
    apiUrl = JSON.parse((await api.waitForOutput(/^.*"api listening".*$/m))[0]).url;
    await worker.waitForOutput(/workers started/);
  });
  afterAll(async () => {
    procs.forEach((p) => killGroup(p));
    await sim?.close();
    await otlp?.close();
  });

  it('one chat task gives spans of the API, the queue, the worker and the upstream call in one trace', async () => {
    const res = await fetch(`${apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'trace me' }] }),
    });
    expect(res.status).toBe(200);
    const upstream = await waitFor(
      async () => otlp.spans.find((s) => s.service === 'relayq-worker' && s.kind === 3 && String(s.attributes['url.full'] ?? '').includes('/v1/chat/completions')),
      { what: 'the span of the upstream call' },
    );
    const trace = () => otlp.spans.filter((s) => s.traceId === upstream.traceId);
    await waitFor(async () => trace().some((s) => s.service === 'relayq-api' && s.kind === 2), { what: "the API's server span in the same trace" });
    const spans = trace();
    const server = spans.find((s) => s.service === 'relayq-api' && s.kind === 2)!;
    expect(server.attributes['url.path'] ?? server.attributes['http.target']).toBe('/v1/chat/completions');
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(server.attributes['http.route']).toBe('/v1/chat/completions');
    const add = spans.find((s) => s.service === 'relayq-api' && s.kind === 4);
    expect(add?.name).toMatch(/^add /);
    const process = spans.find((s) => s.service === 'relayq-worker' && s.kind === 5);
    expect(process?.name).toMatch(/^process /);
    // The job's span hangs under the API's add, and the upstream call under the job.
    expect(process!.parentSpanId).toBe(add!.spanId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    let up: ReceivedSpan | undefined = upstream;
    while (up && up.spanId !== process!.spanId) up = byId.get(up.parentSpanId);
    expect(up).toBe(process);
  });
});

describe('tracing off', () => {
  // Whether the preload loaded any OpenTelemetry package (all of them are CommonJS, so they show in the require cache).
  const probe = ['--import', 'tsx', '--import', './shared/telemetry/preload.ts', '-e', "process.stdout.write(String(Object.keys(require('node:module')._cache).some((k) => k.includes('@opentelemetry'))))"];

  it('loads no part of the OpenTelemetry SDK without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const off = runPlain(process.execPath, probe, {});
    expect(await off.exited).toBe(0);
    expect(off.out()).toBe('false');
    // The probe itself sees the SDK when tracing is on.
    const on = runPlain(process.execPath, probe, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '100' });
    await on.exited;
    expect(on.out()).toBe('true');
  });

  it('gives BullMQ no telemetry option', () => {
    expect(bullTelemetry()).toEqual({});
  });
});
