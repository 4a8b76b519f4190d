import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ChannelRegistry } from '../shared/channels/registry.js';
import { createChannelState } from '../shared/channels/state.js';
import type { Config } from '../shared/config.js';
import { ShuttingDownError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queues.js';
import type { RedisClient } from '../shared/redis.js';
import type { Signals } from '../shared/signals.js';
import type { TaskStore } from '../shared/tasks/store.js';
import { createAuthenticator, presentedKeys, type Principal } from './auth.js';
import { createClientErrorHandler } from './client-errors.js';
import { corsOptions } from './cors.js';
import { createErrorReplies } from './errors.js';
import { loadApiFamilies } from './families/load.js';
import { adminRoutes } from './routes/admin.js';
import { fileRoutes, isFilePath } from './routes/files.js';
import { healthRoutes } from './routes/health.js';
import { taskRoutes } from './routes/tasks.js';
import { createSubmitter } from './submit.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

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
}

const OPEN_ROUTES = new Set(['/healthz', '/readyz', '/docs']);

/** Builds the API from its dependencies; main.ts opens the connections, tests hand in their own. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const families = await loadApiFamilies();
  const errors = createErrorReplies(families);
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: config.MAX_BODY_BYTES,
    requestIdHeader: 'x-request-id',
    // Requests that arrive while closing get the family's own 503 (the onRequest hook below).
    return503OnClosing: false,
    // Ids of any length reach the routes, which answer in their family's format (an URL over
    // 16 KB is refused by Node's parser first: clientErrorHandler).
    routerOptions: { maxParamLength: 16 * 1024 },
    clientErrorHandler: createClientErrorHandler(errors),
    frameworkErrors: errors.frameworkErrorHandler,
  });
  const authenticate = createAuthenticator(config);
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
  if (config.CORS_ORIGINS.length > 0) await app.register(cors, corsOptions(config.CORS_ORIGINS));
  app.addHook('onRequest', async (req, reply) => {
    if (closing) throw new ShuttingDownError();
    const path = req.url.split('?')[0] ?? '';
    if (OPEN_ROUTES.has(path) || isFilePath(path)) return;
    const principal = authenticate(presentedKeys(req.headers));
    if (!principal) {
      return errors.reply(req, reply, { status: 401, type: 'authentication_error', message: 'missing or unknown API key' });
    }
    req.principal = principal;
  });

  await app.register(healthRoutes(deps));
  await app.register(adminRoutes({ registry: deps.registry, channelState: createChannelState({ redis: deps.redis, prefix: config.QUEUE_PREFIX }) }));
  await app.register(fileRoutes({ store: deps.store }));
  await app.register(taskRoutes({ ...cancelDeps, signals: deps.signals, shutdown: shutdown.signal }));
  const familyDeps = { config, redis: deps.redis, store: deps.store, queues: deps.queues, signals: deps.signals, submitter, cancel: cancelDeps, shutdown: shutdown.signal, registry: deps.registry };
  for (const family of families) {
    const routes = family.routes(familyDeps);
    // Every route of the family speaks its error format.
    await app.register(async (scope) => {
      scope.addHook('onRoute', (route) => {
        route.config = { ...route.config, family: family.name };
      });
      await routes(scope);
    });
  }
  return app;
}
