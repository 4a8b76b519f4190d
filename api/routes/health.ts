import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../../shared/redis.js';
import { routeDoc } from '../openapi.js';

const README = new URL('../../README.md', import.meta.url);

/** Liveness (the process answers), readiness (Redis answers too) and the README. No key needed. */
export function healthRoutes(deps: { redis: RedisClient }) {
  return async function plugin(app: FastifyInstance) {
    app.get('/healthz', { schema: routeDoc({ tags: ['operations'], summary: 'Liveness', open: true, responses: { 200: { description: 'The process answers.', example: { status: 'ok' } } } }) }, async () => ({ status: 'ok' }));
    app.get('/docs/readme', { schema: routeDoc({ tags: ['operations'], summary: 'The README (Markdown)', open: true, responses: { 200: { description: 'The README.', contentType: 'text/markdown', example: '# relayq\n\nAsynchronous job relay for AI model APIs…' } } }) }, async (_req, reply) => reply.type('text/markdown; charset=utf-8').send(await readFile(README, 'utf8')));
    const ready = routeDoc({
      tags: ['operations'],
      summary: 'Readiness',
      description: 'Ready when Redis answers.',
      open: true,
      responses: { 200: { description: 'Ready.', example: { status: 'ready' } }, 503: { description: 'Redis is unreachable.', example: { status: 'unavailable', reason: 'redis unreachable' } } },
    });
    app.get('/readyz', { schema: ready }, async (_req, reply) => {
      try {
        await deps.redis.ping();
        return { status: 'ready' };
      } catch {
        return reply.status(503).send({ status: 'unavailable', reason: 'redis unreachable' });
      }
    });
  };
}
