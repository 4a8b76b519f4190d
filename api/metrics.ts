import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ChannelRegistry } from '../shared/channels/registry.js';
import type { ChannelState, ChannelView } from '../shared/channels/state.js';
import { QUEUE_NAMES } from '../shared/families/catalog.js';
import { placements } from '../shared/keys.js';
import { readSharedMetrics, type MetricsRecorder } from '../shared/metrics.js';
import type { Queues } from '../shared/queues.js';
import type { RedisClient } from '../shared/redis.js';
import type { Principal } from './auth.js';
import { routeDoc } from './openapi.js';

export interface ApiMetricsDeps {
  redis: RedisClient;
  prefix: string;
  shards: number;
  queues: Queues;
  registry: ChannelRegistry;
  channelState: ChannelState;
  /** This process's recorder: flushed before a scrape so its own counts are current. */
  recorder?: MetricsRecorder;
  /** Maps one presented key to its principal (null for an unknown key). */
  authenticate: (keys: readonly string[]) => Principal | null;
  /** Answers a refusal in the request's error format. */
  refuse: (req: FastifyRequest, reply: FastifyReply, e: { status: number; type: string; message: string }) => unknown;
}

/** The metrics each API process exposes itself (the cluster-wide ones are SHARED_METRICS). */
export const API_METRICS = {
  http: 'relayq_http_request_duration_seconds',
  queueJobs: 'relayq_queue_jobs',
  queueOldest: 'relayq_queue_oldest_waiting_age_seconds',
  channelState: 'relayq_channel_state',
  channelInFlight: 'relayq_channel_in_flight',
} as const;

const STATES: readonly ChannelView['state'][] = ['healthy', 'cooling_down', 'open', 'half_open', 'disabled'];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * The API's Prometheus metrics. Per process: HTTP latency by route pattern (never the raw URL,
 * so ids do not explode the series) and status, plus Node's process metrics. Read from Redis on
 * each scrape: the cluster-wide counters every process writes (readSharedMetrics), queue depth
 * and the age of the oldest waiting job per queue and shard (one pipeline per shard), and each
 * channel's state.
 */
export function createApiMetrics(deps: ApiMetricsDeps) {
  const registry = new Registry();
  // Node's process metrics start at the first scrape: they install observers that an API that is
  // never scraped (tests build many) has no use for.
  let defaults = false;
  const http = new Histogram({
    name: API_METRICS.http,
    help: 'HTTP request duration by method, route pattern (unmatched for no route) and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const jobs = new Gauge({ name: API_METRICS.queueJobs, help: 'Jobs per queue and shard by state (waiting: wait, prioritized and paused lists; delayed; active).', labelNames: ['queue', 'shard', 'state'], registers: [registry] });
  const oldest = new Gauge({ name: API_METRICS.queueOldest, help: 'Age of the oldest job waiting to start (0 when none waits), per queue and shard.', labelNames: ['queue', 'shard'], registers: [registry] });
  const channelState = new Gauge({ name: API_METRICS.channelState, help: 'Channel state: 1 for the current one of healthy, cooling_down, open, disabled.', labelNames: ['channel', 'type', 'state'], registers: [registry] });
  const inFlight = new Gauge({ name: API_METRICS.channelInFlight, help: 'Upstream calls in flight per channel, across workers.', labelNames: ['channel'], registers: [registry] });

  async function readQueues() {
    jobs.reset();
    oldest.reset();
    const now = Date.now();
    const all = QUEUE_NAMES.flatMap((q) => placements(q, deps.shards));
    await Promise.all(
      all.map(async (p) => {
        const q = deps.queues.get(p);
        // One pipeline per shard: its keys share the shard's hash tag (one Cluster slot).
        const res = await deps.redis.pipeline().llen(q.toKey('wait')).zcard(q.toKey('prioritized')).llen(q.toKey('paused')).zcard(q.toKey('delayed')).llen(q.toKey('active')).lindex(q.toKey('wait'), -1).exec();
        const n = (i: number) => Number(res?.[i]?.[1] ?? 0);
        const labels = { queue: p.queue, shard: String(p.shard) };
        jobs.set({ ...labels, state: 'waiting' }, n(0) + n(1) + n(2));
        jobs.set({ ...labels, state: 'delayed' }, n(3));
        jobs.set({ ...labels, state: 'active' }, n(4));
        // New jobs are pushed on the left: the oldest waiting one is the rightmost.
        const oldestId = res?.[5]?.[1] as string | null | undefined;
        const ts = oldestId ? Number(await deps.redis.hget(q.toKey(oldestId), 'timestamp')) : NaN;
        oldest.set(labels, Number.isFinite(ts) && ts > 0 ? Math.max(now - ts, 0) / 1000 : 0);
      }),
    );
  }

  async function readChannels() {
    channelState.reset();
    inFlight.reset();
    for (const c of await deps.channelState.view([...deps.registry.all()])) {
      for (const s of STATES) channelState.set({ channel: c.name, type: c.type, state: s }, c.state === s ? 1 : 0);
      inFlight.set({ channel: c.name }, c.in_flight);
    }
  }

  return {
    /** Times every answered request (an onResponse hook for the root instance). */
    observe(req: FastifyRequest, reply: FastifyReply) {
      http.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    },
    /** `GET /metrics`: admin keys as `Authorization: Bearer <key>` only (401 otherwise, 403 for a tenant key). */
    routes: async (app: FastifyInstance) => {
      app.get('/metrics', {
        schema: {
          ...routeDoc({
            tags: ['operations'],
            summary: 'Prometheus metrics',
            description: 'Prometheus text format. Admin keys only, as `Authorization: Bearer <key>`.',
            responses: {
              200: { description: 'Prometheus text (version 0.0.4).', contentType: 'text/plain', example: 'relayq_tasks_submitted_total{kind="chat.completion"} 42\n' },
              401: { description: 'No admin key as Authorization: Bearer.' },
              403: { description: 'Not an admin key.' },
            },
          }),
          security: [{ bearer: [] }],
        },
        onRequest: async (req, reply) => {
          const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
          const principal = m?.[1] ? deps.authenticate([m[1]]) : null;
          if (!principal) return deps.refuse(req, reply, { status: 401, type: 'authentication_error', message: 'an admin key is required as Authorization: Bearer <key>' });
          if (!principal.admin) return deps.refuse(req, reply, { status: 403, type: 'permission_error', message: 'an admin key (ADMIN_KEYS) is required' });
        },
        handler: async (_req, reply) => {
          if (!defaults) collectDefaultMetrics({ register: registry });
          defaults = true;
          await deps.recorder?.flush();
          const [shared] = await Promise.all([readSharedMetrics(deps.redis, deps.prefix), readQueues(), readChannels()]);
          return reply.type(registry.contentType).send(`${await registry.metrics()}\n${shared}`);
        },
      });
    },
  };
}
