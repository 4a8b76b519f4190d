import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../../shared/redis.js';

/** Liveness (the process answers) and readiness (Redis answers too). No key needed. */
export function healthRoutes(deps: { redis: RedisClient }) {
  return async function plugin(app: FastifyInstance) {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      try {
        await deps.redis.ping();
        return { status: 'ready' };
      } catch {
        return reply.status(503).send({ status: 'unavailable', reason: 'redis unreachable' });
      }
    });
  };
}
