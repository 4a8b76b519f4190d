/**
 * The baseline API of the submit and fetch figures, run as its own process like relayq's API: a
 * bare Fastify app (no auth, no validation, no logging) with
 *
 *   POST /submit       one BullMQ `queue.add` of the JSON body → `{ code: 1, result: <job id> }`
 *   GET  /hash/:key    one `HGETALL <key>` → the hash as JSON (404 when empty)
 *
 * Settings come from the environment: BASELINE_REDIS_URL, BASELINE_PORT, BASELINE_PREFIX (BullMQ
 * prefix) and BASELINE_QUEUE. It prints `baseline listening` once bound and stops on SIGTERM.
 */
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const redis = new Redis(env('BASELINE_REDIS_URL'), { maxRetriesPerRequest: 1 });
const queue = new Queue(env('BASELINE_QUEUE'), { connection: redis, prefix: env('BASELINE_PREFIX') });
const app = Fastify({ logger: false });

app.post('/submit', async (req) => {
  const job = await queue.add('submit', req.body as Record<string, unknown>);
  return { code: 1, description: 'Submit success', result: job.id, properties: {} };
});

app.get<{ Params: { key: string } }>('/hash/:key', async (req, reply) => {
  const hash = await redis.hgetall(req.params.key);
  if (Object.keys(hash).length === 0) return reply.status(404).send({ code: 3 });
  return hash;
});

const stop = async () => {
  await app.close();
  await queue.close();
  redis.disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

await app.listen({ host: '127.0.0.1', port: Number(env('BASELINE_PORT')) });
process.stdout.write('baseline listening\n');
