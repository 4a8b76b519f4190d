import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ChannelRegistry } from '../shared/channels/registry.js';
import { createChannelState } from '../shared/channels/state.js';
import type { Config } from '../shared/config.js';
import { ShuttingDownError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { MetricsRecorder } from '../shared/metrics.js';
import type { Queues } from '../shared/queues.js';
import type { RedisClient } from '../shared/redis.js';
import type { Signals } from '../shared/signals.js';
import type { TaskStore } from '../shared/tasks/store.js';
import { serverSpanNamer } from '../shared/telemetry/index.js';
import { createAdminSessions } from './admin-session.js';
import { createAuthenticator, presentedKeys, type Principal } from './auth.js';
import { createClientErrorHandler } from './client-errors.js';
import { corsOptions } from './cors.js';
import { createErrorReplies } from './errors.js';
import { loadApiFamilies } from './families/load.js';
import { createApiMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { fileRoutes, isFilePath } from './routes/files.js';
import { redact } from '../shared/redact.js';
import { logPath, taskFactsOf } from './request-log.js';
import { healthRoutes } from './routes/health.js';
import type { BlobStore } from '../shared/blobs.js';
import { BOARD_PATH, hasBoardSession, queueBoardRoutes } from './routes/queues-board.js';
import { taskRoutes } from './routes/tasks.js';
import { createSubmitter } from './submit.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** Every route as `METHOD /path` (Fastify's automatic HEAD copies left out), in the order added. */
    routeList(): string[];
  }
}

/** Trusts the first `hops` proxies in front of relayq (proxy-addr's rule for a number). */
const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

export interface AppDeps {
  config: Config;
  /**
   * The upstream channels: for the admin view, and for results that stay upstream and are streamed
   * through on request (a family's content route). The API never runs upstream work itself.
   */
  registry: ChannelRegistry;
  log: Logger;
  redis: RedisClient;
  store: TaskStore;
  queues: Queues;
  signals: Signals;
  /** This process's cluster-wide metrics recorder (flushed before each /metrics scrape). */
  metrics?: MetricsRecorder;
  /** The blob store, for readiness (an S3 bucket must answer); the store's own copy does the work. */
  blobs?: BlobStore;
}

const OPEN_ROUTES = new Set(['/healthz', '/readyz', '/docs', '/openapi.json', '/admin/login', '/admin/logout']);
/** Open too: the interactive reference's pages and assets, the README. */
const OPEN_PREFIX = '/docs/';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Builds the API from its dependencies; main.ts opens the connections, tests hand in their own. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const families = await loadApiFamilies();
  const errors = createErrorReplies(families);
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: config.MAX_BODY_BYTES,
    requestIdHeader: 'x-request-id',
    // A hop count as the function proxy-addr makes of it (Fastify's types take no number).
    trustProxy: typeof config.TRUST_PROXY === 'number' ? trustHops(config.TRUST_PROXY) : config.TRUST_PROXY,
    // One log line per request (below), not Fastify's two ("incoming request", "request completed").
    logController: new LogController({ disableRequestLogging: true }),
    // Requests that arrive while closing get the family's own 503 (the onRequest hook below).
    return503OnClosing: false,
    // Ids of any length reach the routes, which answer in their family's format (an URL over
    // 16 KB is refused by Node's parser first: clientErrorHandler).
    routerOptions: { maxParamLength: 16 * 1024 },
    clientErrorHandler: createClientErrorHandler(errors),
    frameworkErrors: errors.frameworkErrorHandler,
  });
  const authenticate = createAuthenticator(config);
  const sessions = createAdminSessions(config.ADMIN_KEYS);
  const routeList: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeList.push(`${method} ${route.url}`);
  });
  app.decorate('routeList', () => routeList.filter((r) => !r.startsWith('HEAD ')));
  // Before any route: the OpenAPI document collects routes as they are added.
  await registerOpenApi(app, { version });
  // Closing: new requests are refused (503, retryable); long waits (sync calls, token streams,
  // SSE) go on for SHUTDOWN_GRACE_SECONDS, then `shutdown` fires and they end with an error the
  // client can retry. Keep-alive sockets are closed as soon as they fall idle, so the close is
  // as quick as the work in flight allows.
  const shutdown = new AbortController();
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    const grace = setTimeout(() => shutdown.abort(), config.SHUTDOWN_GRACE_SECONDS * 1000);
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    app.server.once('close', () => {
      clearTimeout(grace);
      clearInterval(sweep);
    });
    done();
  });
  const submitter = createSubmitter({ config, redis: deps.redis, store: deps.store, queues: deps.queues });
  const cancelDeps = { store: deps.store, queues: deps.queues, signals: deps.signals, redis: deps.redis, prefix: config.QUEUE_PREFIX };

  app.decorateRequest('principal', null as unknown as Principal);
  app.setErrorHandler(errors.errorHandler);
  app.setNotFoundHandler((req, reply) => errors.reply(req, reply, { status: 404, type: 'not_found_error', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  // Registered (and awaited) before the key check: its hook answers a browser's preflight, which
  // never carries a key, and puts the CORS headers on every answer, refusals included.
  if (config.CORS_ORIGINS.length > 0) await app.register(cors, corsOptions(config.CORS_ORIGINS, families.flatMap((f) => f.exposedHeaders ?? [])));
  // With tracing on, a request's span is named after its route template, not the method alone.
  const nameSpan = serverSpanNamer();
  if (nameSpan) {
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.url) nameSpan(req.method, req.routeOptions.url);
    });
  }
  // The hooks every request runs take a callback rather than returning a promise: one promise
  // and one microtask fewer per hook and request. A hook that answers does not call `done`.
  app.addHook('onRequest', (req, reply, done) => {
    if (closing) return done(new ShuttingDownError());
    const path = req.url.split('?')[0] ?? '';
    if (OPEN_ROUTES.has(path) || path.startsWith(OPEN_PREFIX) || isFilePath(path)) return done();
    // The queue dashboard is opened by browsers, which send the session cookie, not a key.
    if (hasBoardSession(sessions, req)) {
      req.principal = { tenant: 'admin', admin: true };
      return done();
    }
    const keys = presentedKeys(req.headers);
    const principal = authenticate(keys);
    if (!principal) {
      if (keys.length === 0 && req.method === 'GET' && path.startsWith(BOARD_PATH) && /text\/html/.test(req.headers.accept ?? '')) return void reply.redirect('/admin/login', 303);
      return void errors.reply(req, reply, { status: 401, type: 'authentication_error', message: 'missing or unknown API key' });
    }
    req.principal = principal;
    done();
  });

  const channelState = createChannelState({ redis: deps.redis, prefix: config.QUEUE_PREFIX });
  const metrics = createApiMetrics({
    redis: deps.redis,
    prefix: config.QUEUE_PREFIX,
    shards: config.QUEUE_SHARDS,
    queues: deps.queues,
    registry: deps.registry,
    channelState,
    recorder: deps.metrics,
    authenticate,
    refuse: errors.reply,
  });
  // The request line, written as `req.log` would write it (its `reqId` binding first), through a
  // child without redaction: pino runs every field of a redacting logger's line through the
  // redaction paths, several µs a line, and these fields are fixed and never secret. For this
  // line only.
  const requestLog = deps.log.child({}, { redact: [] });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req, reply);
    // Only what logPath and redact leave of the client's own text (path, request id), never a header.
    if ((req.log as Logger).isLevelEnabled('info')) requestLog.info({ reqId: redact(String(req.id)), method: req.method, url: logPath(req.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime), ...taskFactsOf(req) }, 'request');
    done();
  });
  await app.register(metrics.routes);
  await app.register(healthRoutes(deps));
  await app.register(adminRoutes({ registry: deps.registry, channelState }));
  await app.register(queueBoardRoutes({ redis: deps.redis, prefix: config.QUEUE_PREFIX, queues: deps.queues, shards: config.QUEUE_SHARDS, sessions, refuse: errors.reply }));
  await app.register(fileRoutes({ store: deps.store }));
  await app.register(taskRoutes({ ...cancelDeps, signals: deps.signals, shutdown: shutdown.signal }));
  const familyDeps = { config, redis: deps.redis, store: deps.store, queues: deps.queues, signals: deps.signals, submitter, cancel: cancelDeps, shutdown: shutdown.signal, registry: deps.registry };
  for (const family of families) {
    const routes = family.routes(familyDeps);
    // Every route of the family speaks its error format.
    await app.register(async (scope) => {
      scope.addHook('onRoute', (route) => {
        route.config = { ...route.config, family: family.name };
        route.schema = { tags: [family.name], ...route.schema };
      });
      await routes(scope);
    });
  }
  return app;
}
