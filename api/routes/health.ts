import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../../shared/blobs.js';
import type { RedisClient } from '../../shared/redis.js';
import { routeDoc } from '../openapi.js';

const README = new URL('../../README.md', import.meta.url);

/** How long (ms) a blob store check that passed is trusted: readiness probes cost one HeadBucket per second at most. */
const BLOB_CHECK_TRUST_MS = 1000;

/** How long (ms) a readiness probe waits for the blob store before answering 503. */
const BLOB_CHECK_TIMEOUT_MS = 2000;

/**
 * Liveness (the process answers), readiness (Redis answers, and a blob store that can be checked,
 * the S3 bucket, does too) and the README. No key needed.
 */
export function healthRoutes(deps: { redis: RedisClient; blobs?: BlobStore }) {
  let blobsOkAt = 0;
  // One check at a time, shared by the probes that arrive meanwhile: a bucket that hangs costs
  // one pending request, not one per probe.
  let inFlight: Promise<string | null> | null = null;
  const runCheck = (check: () => Promise<void>) =>
    (inFlight ??= check()
      .then(() => {
        blobsOkAt = Date.now();
        return null;
      })
      .catch((err: unknown) => (err as Error).message)
      .finally(() => {
        inFlight = null;
      }));
  /** Null when the blob store answers (or has nothing to check); what is wrong otherwise, within BLOB_CHECK_TIMEOUT_MS. */
  async function blobProblem(): Promise<string | null> {
    const check = deps.blobs?.check?.bind(deps.blobs);
    if (!check || Date.now() - blobsOkAt < BLOB_CHECK_TRUST_MS) return null;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`did not answer within ${BLOB_CHECK_TIMEOUT_MS / 1000} s`), BLOB_CHECK_TIMEOUT_MS);
    });
    try {
      return await Promise.race([runCheck(check), late]);
    } finally {
      clearTimeout(timer);
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
