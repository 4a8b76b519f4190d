import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../../shared/redis.js';

const README = new URL('../../README.md', import.meta.url);

/** Liveness (the process answers), readiness (Redis answers too) and the docs. No key needed. */
export function healthRoutes(deps: { redis: RedisClient }) {
  return async function plugin(app: FastifyInstance) {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/docs', async (_req, reply) => reply.type('text/markdown; charset=utf-8').send(await readFile(README, 'utf8')));
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
