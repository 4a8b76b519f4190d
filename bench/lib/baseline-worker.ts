/**
 * The baseline worker of the end-to-end figure, run as its own process like relayq's worker: a
 * bare BullMQ Worker whose processor makes the same upstream call relayq's chat job makes
 * (`POST <upstream>/chat/completions` with the job's data as the body, the answer read as JSON)
 * and returns the answer. No task record, no events, no retries policy, no logging.
 *
 * Settings come from the environment: BASELINE_REDIS_URL, BASELINE_PREFIX, BASELINE_QUEUE,
 * BASELINE_UPSTREAM (OpenAI-compatible base URL, with `/v1`) and BASELINE_CONCURRENCY. It prints
 * `baseline worker ready` once its worker runs and stops on SIGTERM.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const upstream = env('BASELINE_UPSTREAM');
const connection = new Redis(env('BASELINE_REDIS_URL'), { maxRetriesPerRequest: null });
const worker = new Worker(
  env('BASELINE_QUEUE'),
  async (job) => {
    const res = await fetch(`${upstream}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-baseline' },
      body: JSON.stringify(job.data),
    });
    if (!res.ok) throw new Error(`upstream answered ${res.status}`);
    return (await res.json()) as unknown;
  },
  { connection, prefix: env('BASELINE_PREFIX'), concurrency: Number(env('BASELINE_CONCURRENCY')), removeOnComplete: { count: 0 } },
);

const stop = async () => {
  await worker.close();
  connection.disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

await worker.waitUntilReady();
process.stdout.write('baseline worker ready\n');
