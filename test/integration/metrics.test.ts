import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { KEYS, startStack, waitFor, type Stack } from '../support/stack.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (version 0.0.4): every line is a comment
 * (`# HELP`/`# TYPE`), blank, or `name{label="value",...} number`; throws on anything else, on a
 * sample whose family has no TYPE, and on a TYPE given twice.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (types.has(type[1]!)) throw new Error(`TYPE twice: ${type[1]}`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    // Values as Go's ParseFloat reads them (Prometheus's parser): NaN and Inf in any case.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-]?[Ii][Nn][Ff])$/.exec(line);
    if (!m) throw new Error(`not a Prometheus line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] ?? '';
    let consumed = 0;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      labels[l[1]!] = l[2]!;
      consumed = re.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`bad labels: ${line}`);
    const name = m[1]!;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(name) && !types.has(family)) throw new Error(`sample without TYPE: ${line}`);
    samples.push({ name, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

describe('GET /metrics', () => {
  let s: Stack;
  let rx: Receiver;
  const scrape = async () => {
    const r = await s.call<string>('GET', '/metrics', { key: KEYS.admin });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    return parsePrometheus(r.body);
  };
  beforeAll(async () => {
    s = await startStack({ env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' } });
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx?.close();
    await s?.close();
  });

  it('is for admin keys sent as Authorization: Bearer only', async () => {
    expect((await s.call('GET', '/metrics', { key: null })).status).toBe(401);
    expect((await s.call('GET', '/metrics', { key: 'sk-unknown-0123456789' })).status).toBe(401);
    expect((await s.call('GET', '/metrics', { key: KEYS.acme })).status).toBe(403);
    // The admin key in another header than Authorization: Bearer is refused.
    expect((await s.call('GET', '/metrics', { key: null, headers: { 'mj-api-secret': KEYS.admin } })).status).toBe(401);
    expect((await s.call('GET', '/metrics', { key: null, headers: { authorization: KEYS.admin } })).status).toBe(401);
  });

  it('parses as Prometheus text with every metric family', async () => {
    const { types } = await scrape();
    for (const [name, type] of Object.entries({
      relayq_http_request_duration_seconds: 'histogram',
      relayq_tasks_submitted_total: 'counter',
      relayq_tasks_finished_total: 'counter',
      relayq_task_duration_seconds: 'histogram',
      relayq_upstream_request_duration_seconds: 'histogram',
      relayq_upstream_errors_total: 'counter',
      relayq_queue_jobs: 'gauge',
      relayq_queue_oldest_waiting_age_seconds: 'gauge',
      relayq_webhook_deliveries_total: 'counter',
      relayq_channel_state: 'gauge',
    })) {
      expect(types.get(name), name).toBe(type);
    }
  });

  it('counts a task from submission to its webhook, cluster-wide', async () => {
    const before = (await scrape()).samples;
    const r = await s.call('POST', '/v1/chat/completions', { body: { model: 'sim-chat', messages: [{ role: 'user', content: 'count me' }] }, headers: { prefer: 'respond-async', 'x-webhook-url': rx.url } });
    expect(r.status).toBe(202);
    await s.call('GET', `/v1/tasks/${r.body.id}`);
    const after = await waitFor(
      async () => {
        const { samples } = await scrape();
        const moved =
          value(samples, 'relayq_tasks_finished_total', { kind: 'chat.completion', outcome: 'succeeded' }) > value(before, 'relayq_tasks_finished_total', { kind: 'chat.completion', outcome: 'succeeded' }) &&
          value(samples, 'relayq_webhook_deliveries_total', { outcome: 'delivered' }) >= value(before, 'relayq_webhook_deliveries_total', { outcome: 'delivered' }) + 2;
        return moved && samples;
      },
      { what: 'the finished task and its deliveries in /metrics' },
    );
    expect(value(after, 'relayq_tasks_submitted_total', { kind: 'chat.completion' })).toBe(value(before, 'relayq_tasks_submitted_total', { kind: 'chat.completion' }) + 1);
    expect(value(after, 'relayq_task_duration_seconds_count', { kind: 'chat.completion', outcome: 'succeeded' })).toBeGreaterThan(value(before, 'relayq_task_duration_seconds_count', { kind: 'chat.completion' }));
    expect(value(after, 'relayq_upstream_request_duration_seconds_count', { channel: 'default-openai', outcome: 'ok' })).toBeGreaterThan(
      value(before, 'relayq_upstream_request_duration_seconds_count', { channel: 'default-openai', outcome: 'ok' }),
    );
    // Latency is labelled with the route pattern, never the URL with its id.
    expect(value(after, 'relayq_http_request_duration_seconds_count', { route: '/v1/tasks/:id', method: 'GET', status_code: '200' })).toBeGreaterThanOrEqual(1);
    expect(after.some((x) => x.labels.route?.includes(r.body.id))).toBe(false);
    expect(value(after, 'relayq_channel_state', { channel: 'default-openai', state: 'healthy' })).toBe(1);
    // Every state /admin/channels can report has its series (0 when the channel is not in it).
    for (const state of ['cooling_down', 'open', 'half_open', 'disabled']) {
      expect(after.filter((x) => x.name === 'relayq_channel_state' && x.labels.channel === 'default-openai' && x.labels.state === state).map((x) => x.value), state).toEqual([0]);
    }
    expect(value(after, 'relayq_queue_jobs', { queue: 'text', shard: '0', state: 'waiting' })).toBe(0);
  });

  it('counts upstream errors by channel and reason', async () => {
    const before = (await scrape()).samples;
    s.sim.faults.add({ route: 'openai', kind: 'status', status: 400, times: 1, body: { error: { message: 'nope', type: 'invalid_request_error' } } });
    await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'refused' } });
    const errors = (m: Sample[]) => value(m, 'relayq_upstream_errors_total', { channel: 'default-openai', reason: 'request' });
    await waitFor(async () => errors((await scrape()).samples) === errors(before) + 1, { what: 'the upstream error in /metrics' });
  });

  it('shows the depth of a queue and the age of its oldest waiting job', async () => {
    await s.stopWorkers();
    try {
      const r = await s.call('POST', '/v1/embeddings', { body: { model: 'sim-embed', input: 'waits' }, headers: { prefer: 'respond-async' } });
      expect(r.status).toBe(202);
      const { samples } = await waitFor(async () => {
        const m = await scrape();
        return value(m.samples, 'relayq_queue_oldest_waiting_age_seconds', { queue: 'text', shard: '0' }) > 0 && m;
      }, { what: 'a waiting job to age' });
      expect(value(samples, 'relayq_queue_jobs', { queue: 'text', shard: '0', state: 'waiting' })).toBe(1);
    } finally {
      await s.startWorker();
    }
  });
});
