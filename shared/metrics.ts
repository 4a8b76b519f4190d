import type { Logger } from './logger.js';
import { globalKeys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * Cluster-wide metrics: counters and histograms that any process (API or worker) adds to and the
 * API's `/metrics` reads, so one scrape of one API sees the whole cluster.
 *
 * Wire format (renaming a field is a migration): one Redis hash `<prefix>:metrics`, a field per
 * series, `<metric name>|<JSON array of label values>|<part>`, where part is `n` for a counter,
 * and `b<i>` (observations in bucket i, not cumulative; i = bucket count is +Inf), `sum` (float,
 * seconds) and `count` for a histogram. Values only grow (HINCRBY / HINCRBYFLOAT).
 */
export interface SharedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  labels: readonly string[];
  /** Upper bounds in seconds, ascending (histograms). */
  buckets?: readonly number[];
}

const UPSTREAM_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TASK_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** Every cluster-wide metric. Label values: kinds and channel names as configured, outcomes as listed in `help`. */
export const SHARED_METRICS = {
  tasksSubmitted: { name: 'relayq_tasks_submitted_total', help: 'Tasks accepted by the API, by kind.', type: 'counter', labels: ['kind'] },
  tasksFinished: {
    name: 'relayq_tasks_finished_total',
    help: 'Tasks that reached a final status, by kind and outcome (succeeded, failed, canceled).',
    type: 'counter',
    labels: ['kind', 'outcome'],
  },
  taskDuration: {
    name: 'relayq_task_duration_seconds',
    help: 'Time from submission to the final status, by kind and outcome.',
    type: 'histogram',
    labels: ['kind', 'outcome'],
    buckets: TASK_BUCKETS,
  },
  upstreamDuration: {
    name: 'relayq_upstream_request_duration_seconds',
    help: 'Duration of upstream calls, by channel and outcome (ok, error).',
    type: 'histogram',
    labels: ['channel', 'outcome'],
    buckets: UPSTREAM_BUCKETS,
  },
  upstreamErrors: {
    name: 'relayq_upstream_errors_total',
    help: 'Failed upstream calls, by channel and reason (rate_limited, unwell: 5xx/timeout/refused key, request: the upstream refused the request).',
    type: 'counter',
    labels: ['channel', 'reason'],
  },
  webhookDeliveries: {
    name: 'relayq_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome (delivered, retry, gave_up, gone, refused).',
    type: 'counter',
    labels: ['outcome'],
  },
} as const satisfies Record<string, SharedMetric>;

export type SharedMetricName = keyof typeof SHARED_METRICS;

/** Adds to the cluster-wide metrics; see createMetricsRecorder. */
export interface MetricsRecorder {
  /** Adds `by` (default 1) to a counter. */
  inc(metric: SharedMetricName, labels: readonly string[], by?: number): void;
  /** Records one observation (seconds) in a histogram. */
  observe(metric: SharedMetricName, labels: readonly string[], seconds: number): void;
  /** Writes what is pending now (one pipeline). */
  flush(): Promise<void>;
  /** Flushes and stops. */
  close(): Promise<void>;
}

const field = (m: SharedMetric, labels: readonly string[], part: string) => `${m.name}|${JSON.stringify(labels)}|${part}`;

/**
 * A recorder that keeps additions in memory and writes them in one pipeline at most every
 * `flushMs` (default 1000 ms), so a hot path pays a map update, not a Redis round trip. A crash
 * loses at most that window; write failures are logged and the batch dropped (metrics never fail
 * a task).
 */
export function createMetricsRecorder(deps: { redis: RedisClient; prefix: string; flushMs?: number; log?: Logger }): MetricsRecorder {
  const key = globalKeys(deps.prefix).metrics;
  let ints = new Map<string, number>();
  let floats = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const add = (map: Map<string, number>, f: string, by: number) => map.set(f, (map.get(f) ?? 0) + by);
  const schedule = () => {
    if (timer || closed) return;
    timer = setTimeout(() => void flush(), deps.flushMs ?? 1000);
    timer.unref();
  };

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (ints.size === 0 && floats.size === 0) return;
    const [i, f] = [ints, floats];
    ints = new Map();
    floats = new Map();
    const p = deps.redis.pipeline();
    for (const [k, v] of i) p.hincrby(key, k, v);
    for (const [k, v] of f) p.hincrbyfloat(key, k, v);
    try {
      await p.exec();
    } catch (err) {
      deps.log?.warn({ err: (err as Error).message }, 'metrics not written');
    }
  }

  return {
    inc(metric, labels, by = 1) {
      add(ints, field(SHARED_METRICS[metric], labels, 'n'), by);
      schedule();
    },
    observe(metric, labels, seconds) {
      const m: SharedMetric = SHARED_METRICS[metric];
      const buckets = m.buckets ?? [];
      const i = buckets.findIndex((b) => seconds <= b);
      add(ints, field(m, labels, `b${i === -1 ? buckets.length : i}`), 1);
      add(ints, field(m, labels, 'count'), 1);
      add(floats, field(m, labels, 'sum'), seconds);
      schedule();
    },
    flush,
    async close() {
      await flush();
      closed = true;
    },
  };
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (names: readonly string[], values: readonly string[], extra: [string, string][] = []) => {
  const pairs = [...names.map((n, i): [string, string] => [n, values[i] ?? '']), ...extra];
  return pairs.length ? `{${pairs.map(([n, v]) => `${n}="${escapeLabel(v)}"`).join(',')}}` : '';
};

/**
 * The cluster-wide metrics in Prometheus text format (one HGETALL), every metric with its HELP
 * and TYPE lines even before its first sample.
 */
export async function readSharedMetrics(redis: RedisClient, prefix: string): Promise<string> {
  const raw = await redis.hgetall(globalKeys(prefix).metrics);
  /** name → label JSON → part → value */
  const byName = new Map<string, Map<string, Map<string, number>>>();
  for (const [f, v] of Object.entries(raw)) {
    const [name, labels, part] = f.split('|');
    if (name === undefined || labels === undefined || part === undefined) continue;
    const series = byName.get(name) ?? new Map<string, Map<string, number>>();
    byName.set(name, series);
    const parts = series.get(labels) ?? new Map<string, number>();
    series.set(labels, parts);
    parts.set(part, Number(v));
  }
  const out: string[] = [];
  for (const m of Object.values(SHARED_METRICS) as SharedMetric[]) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const [labelJson, parts] of byName.get(m.name) ?? []) {
      let values: string[];
      try {
        values = (JSON.parse(labelJson) as unknown[]).map(String);
      } catch {
        continue;
      }
      if (m.type === 'counter') {
        out.push(`${m.name}${labelText(m.labels, values)} ${parts.get('n') ?? 0}`);
        continue;
      }
      const buckets = m.buckets ?? [];
      let cumulative = 0;
      for (let i = 0; i <= buckets.length; i++) {
        cumulative += parts.get(`b${i}`) ?? 0;
        const le = i < buckets.length ? String(buckets[i]) : '+Inf';
        out.push(`${m.name}_bucket${labelText(m.labels, values, [['le', le]])} ${cumulative}`);
      }
      out.push(`${m.name}_sum${labelText(m.labels, values)} ${parts.get('sum') ?? 0}`);
      out.push(`${m.name}_count${labelText(m.labels, values)} ${parts.get('count') ?? 0}`);
    }
  }
  return `${out.join('\n')}\n`;
}
