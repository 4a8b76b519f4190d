import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../../shared/blobs.js';
import type { RedisClient } from '../../shared/redis.js';
import { routeDoc } from '../openapi.js';

const README = new URL('../../README.md', import.meta.url);

/** How long (ms) a blob store check that passed is trusted: readiness probes cost one HeadBucket per second at most. */
const BLOB_CHECK_TRUST_MS = 1000;

/**
 * Liveness (the process answers), readiness (Redis answers, and a blob store that can be checked,
 * the S3 bucket, does too) and the README. No key needed.
 */
export function healthRoutes(deps: { redis: RedisClient; blobs?: BlobStore }) {
  let blobsOkAt = 0;
  /** Null when the blob store answers (or has nothing to check); what is wrong otherwise. */
  async function blobProblem(): Promise<string | null> {
    if (!deps.blobs?.check || Date.now() - blobsOkAt < BLOB_CHECK_TRUST_MS) return null;
    try {
      await deps.blobs.check();
      blobsOkAt = Date.now();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }
  return async function plugin(app: FastifyInstance) {
    app.get('/healthz', { schema: routeDoc({ tags: ['operations'], summary: 'Liveness', open: true, responses: { 200: { description: 'The process answers.', example: { status: 'ok' } } } }) }, async () => ({ status: 'ok' }));
    app.get('/docs/readme', { schema: routeDoc({ tags: ['operations'], summary: 'The README (Markdown)', open: true, responses: { 200: { description: 'The README.', contentType: 'text/markdown', example: '# relayq\n\nAsynchronous job relay for AI model APIs…' } } }) }, async (_req, reply) => reply.type('text/markdown; charset=utf-8').send(await readFile(README, 'utf8')));
    const ready = routeDoc({
      tags: ['operations'],
      summary: 'Readiness',
      description: 'Ready when Redis answers, and with BLOB_STORE=s3 the bucket too.',
      open: true,
      responses: {
        200: { description: 'Ready.', example: { status: 'ready' } },
        503: { description: 'Redis or the blob store is unreachable.', example: { status: 'unavailable', reason: 'redis unreachable' } },
      },
    });
    app.get('/readyz', { schema: ready }, async (_req, reply) => {
      try {
        await deps.redis.ping();
      } catch {
        return reply.status(503).send({ status: 'unavailable', reason: 'redis unreachable' });
      }
      const problem = await blobProblem();
      if (problem) return reply.status(503).send({ status: 'unavailable', reason: `blob store: ${problem}` });
      return { status: 'ready' };
    });
  };
}
