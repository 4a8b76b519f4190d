import { z } from 'zod';
import { QUEUE_NAMES } from './families/catalog.js';
import { defaultChannel, readChannelFile, type Channel } from './channels/config.js';

/**
 * The one reader of `process.env`. Every variable of docs/configuration.md is parsed here,
 * once, at start; a bad value stops the process with every problem listed.
 */

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .transform((v) => v === 'true' || v === '1');

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  );

/** `5s,5m,2h,250ms` → milliseconds. */
const durations = z.string().transform((s, ctx) => {
  const out: number[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(ms|s|m|h)$/.exec(part);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${part}" is not a duration such as 250ms, 5s, 5m or 2h` });
      return z.NEVER;
    }
    out.push(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']);
  }
  return out;
});

const optionalUrl = z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default('');

/** A queue's wire name (see shared/families/catalog.ts for the list). */
export type QueueName = string;

const apiKeys = csv.transform((pairs, ctx) => {
  const keys: { tenant: string; secret: string }[] = [];
  for (const pair of pairs) {
    const at = pair.indexOf(':');
    const tenant = pair.slice(0, at);
    const secret = pair.slice(at + 1);
    if (at <= 0 || secret.length < 8 || !/^[A-Za-z0-9_.-]+$/.test(tenant)) {
      // Never echo the secret itself: only its position.
      ctx.addIssue({
        code: 'custom',
        message: `entry ${keys.length + 1} must be tenant:secret (tenant of letters, digits, _.-; secret of 8+ characters)`,
      });
      return z.NEVER;
    }
    keys.push({ tenant, secret });
  }
  return keys;
});

/**
 * `TRUST_PROXY`: which reverse proxies relayq believes about the client's address
 * (`X-Forwarded-For`), as Fastify's `trustProxy` takes it: empty or `false` none (the default: the
 * address is the TCP peer's), `true` any, a number of hops, or a comma list of addresses and CIDR
 * ranges (`127.0.0.1,10.0.0.0/8`).
 */
const trustProxy = z.string().transform((v, ctx): boolean | number | string[] => {
  const s = v.trim();
  if (s === '' || s === 'false') return false;
  if (s === 'true') return true;
  if (/^\d+$/.test(s)) return Number(s);
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = list.find((x) => !/^[0-9a-f.:]+(\/\d{1,3})?$/i.test(x));
  if (bad) {
    ctx.addIssue({ code: 'custom', message: `"${bad}" is not an address or CIDR range (use true, false, a hop count, or addresses such as 10.0.0.0/8)` });
    return z.NEVER;
  }
  return list;
});

/**
 * `CORS_ORIGINS`: `*` (any origin) or a comma list of origins (`https://app.example.com`,
 * `http://localhost:3000`); an origin is `scheme://host[:port]` with no path, as browsers send it
 * in `Origin` (a trailing `/` is dropped). `*` anywhere means any origin.
 */
const corsOrigins = csv.transform((list, ctx) => {
  const out: string[] = [];
  for (const item of list) {
    const origin = item.replace(/\/+$/, '');
    if (origin === '*') return ['*'];
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+$/i.test(origin)) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not an origin such as https://app.example.com (scheme://host[:port], no path), nor *` });
      return z.NEVER;
    }
    out.push(origin.toLowerCase());
  }
  return out;
});

/** Variables whose empty value is a setting of its own, not "unset" (CORS_ORIGINS= turns CORS off). */
const EMPTY_IS_A_VALUE = new Set(['CORS_ORIGINS']);

const fields = z.object({
  /** Unset means redis://127.0.0.1:LOCAL_REDIS_PORT (see Config.REDIS_URL). */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** With REDIS_URL unset: the port of the Redis on 127.0.0.1 relayq uses, where `npm start` starts its own when none answers. */
  LOCAL_REDIS_PORT: int(1, 65535).default(6379),
  REDIS_CLUSTER_NODES: csv.default([]),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('relayq'),
  QUEUE_SHARDS: int(1, 64).default(1),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(8080),
  /** The API's address as clients reach it, for `urls` in webhook bodies (default http://HOST:PORT). */
  PUBLIC_URL: optionalUrl,
  API_KEYS: apiKeys.default([]),
  ADMIN_KEYS: csv.default([]),
  MJ_UPSTREAM_URL: optionalUrl,
  MJ_UPSTREAM_SECRET: z.string().default(''),
  OPENAI_UPSTREAM_URL: optionalUrl,
  OPENAI_UPSTREAM_KEY: z.string().default(''),
  /** JSON or YAML file listing upstream channels; overrides the four single-upstream variables. */
  UPSTREAMS_FILE: z.string().default(''),
  WORKER_QUEUES: csv.pipe(z.array(z.enum(QUEUE_NAMES))).default([...QUEUE_NAMES]),
  TASK_RETENTION_SECONDS: int(60).default(604800),
  SYNC_WAIT_SECONDS: int(0, 3600).default(600),
  /**
   * A plain streaming call (no `Prefer`, no Idempotency-Key, no webhook) whose client left while no
   * other client reads its answer: its task is canceled (the upstream call aborted) after this many
   * ms, unless a reader came back meanwhile (an SDK retry joining it). 0 never cancels.
   */
  STREAM_ABANDON_GRACE_MS: int(0, 600_000).default(3000),
  MAX_BODY_BYTES: int(1024).default(26214400),
  MAX_QUEUE_DEPTH: int(1).default(100000),
  RATE_LIMIT_PER_MINUTE: int(1).default(600),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  /** Delays before each retry of a webhook event (jitter ±20 % is added). */
  WEBHOOK_RETRY_SCHEDULE: durations.default([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 86_400_000]),
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(15_000),
  WEBHOOK_POLL_MS: int(10, 60_000).default(200),
  WEBHOOK_PROGRESS_INTERVAL_MS: int(0, 60_000).default(500),
  WEBHOOK_CONCURRENCY: int(1, 1000).default(50),
  /**
   * Origins browsers may call the API from (CORS): `['*']` any (the default), a list of origins,
   * or `[]` (CORS_ORIGINS set to the empty string) for no CORS at all.
   */
  CORS_ORIGINS: corsOrigins.default(['*']),
  /** Reverse proxies whose `X-Forwarded-For` gives the client's address (per-address limits, logs): see trustProxy above. */
  TRUST_PROXY: trustProxy.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_GRACE_SECONDS: int(0, 3600).default(30),
  MJ_UPSTREAM_TIMEOUT_SECONDS: int(1).default(600),
  MJ_POLL_INTERVAL_MS: int(50, 60000).default(1000),
  MJ_CONCURRENCY: int(1, 1000).default(20),
  /**
   * Jobs one worker runs at once on each queue of the other long-running families (Suno, Luma,
   * video): their submit calls only, as the tracker follows the upstream work without a slot.
   */
  LONG_TASK_CONCURRENCY: int(1, 1000).default(20),
  /** How often the tracker polls the long-running upstream work of families other than MJ (ms). */
  UPSTREAM_POLL_INTERVAL_MS: int(50, 60000).default(2000),
  /** A long-running upstream task of a family other than MJ fails after this long without progress (s). */
  UPSTREAM_TASK_TIMEOUT_SECONDS: int(1).default(1800),
  TEXT_CONCURRENCY: int(1, 1000).default(50),
  IMAGE_CONCURRENCY: int(1, 1000).default(10),
  AUDIO_CONCURRENCY: int(1, 1000).default(10),
  /** Largest binary input or output kept in the blob store, per blob. */
  BLOB_MAX_BYTES: int(1024).default(26214400),
  /**
   * Where task blobs (uploads, request and response bodies, archived outputs) live: `redis` (one
   * hash per task, next to it) or `s3` (an S3-compatible bucket; Redis keeps only a reference and
   * blobs of at most BLOB_INLINE_MAX_BYTES).
   */
  BLOB_STORE: z.enum(['redis', 's3']).default('redis'),
  /** With BLOB_STORE=s3: blobs up to this size stay inline in Redis (small JSON bodies), bytes. */
  BLOB_INLINE_MAX_BYTES: int(0).default(65536),
  /** The S3-compatible endpoint (`http://minio:9000`); empty: AWS S3 of S3_REGION. */
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a bucket name (3-63 lowercase letters, digits, . and -)').optional(),
  /** Static credentials; both empty: the AWS SDK's default chain (instance or task role, ~/.aws). */
  S3_ACCESS_KEY_ID: z.string().default(''),
  S3_SECRET_ACCESS_KEY: z.string().default(''),
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most S3-compatible servers want. */
  S3_FORCE_PATH_STYLE: bool.default(false),
  /** Object keys start with this (default: QUEUE_PREFIX), then `/<task id>/<blob name>`. */
  S3_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_./-]*$/, 'letters, digits and _ . / - only').default(''),
  /**
   * Copy each finished task's media (images, audio, video) from the upstream's URLs into the blob
   * store and serve them from relayq (`/v1/files/...`) for as long as the task is kept.
   */
  ARCHIVE_OUTPUTS: bool.default(false),
  /** Largest media file archived, bytes; a larger one keeps its upstream URL. */
  ARCHIVE_MAX_BYTES: int(1024).default(536870912),
  /** The longest one archive download may take, seconds. */
  ARCHIVE_TIMEOUT_SECONDS: int(1, 3600).default(120),
  /** Allow archive downloads from loopback/private/link-local addresses (a simulator on 127.0.0.1). */
  ARCHIVE_ALLOW_PRIVATE: bool.default(false),
  MJ_BANNED_WORDS: csv.default([]),
  JOB_ATTEMPTS: int(1, 50).default(5),
  /** BullMQ job lock; a dead worker's job is taken over after about this long. */
  WORKER_LOCK_MS: int(500).default(30000),
  RETRY_BASE_DELAY_MS: int(1).default(1000),
  /**
   * The longest a job waits, in all, for failing channels (circuits open) to come back before its
   * task fails with `no_healthy_channel` (s). Waits for limits, 429 cool-downs, probes and
   * half-open trials under way end on their own and do not count.
   */
  CHANNEL_WAIT_SECONDS: int(0, 86_400).default(60),
  UPSTREAM_TIMEOUT_SECONDS: int(1).default(60),
  SIM_PORT: int(0, 65535).default(8090),
  /**
   * The simulator's address as the clients of relayq reach it, for the image URLs it answers
   * (`{SIM_PUBLIC_URL}/sim/image/….png`); empty: the address the request came to (in a container
   * `http://sim:8090`, which only other containers resolve).
   */
  SIM_PUBLIC_URL: optionalUrl,
  SIM_MJ_DURATION_MS: int(0).default(8000),
});

/** Rules between variables: what S3 needs, and archiving's need of an object store. */
const schema = fields.superRefine((c, ctx) => {
  if (c.BLOB_STORE === 's3' && !c.S3_BUCKET) ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is required with BLOB_STORE=s3' });
  if (Boolean(c.S3_ACCESS_KEY_ID) !== Boolean(c.S3_SECRET_ACCESS_KEY)) {
    ctx.addIssue({ code: 'custom', path: [c.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'], message: 'set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together (or neither, for the AWS default credentials)' });
  }
  // Archived images and videos run to many megabytes each: too big for a Redis without eviction.
  if (c.ARCHIVE_OUTPUTS && c.BLOB_STORE !== 's3') ctx.addIssue({ code: 'custom', path: ['ARCHIVE_OUTPUTS'], message: 'needs BLOB_STORE=s3 (archived media are too large for Redis)' });
});

export type Config = Omit<z.infer<typeof schema>, 'REDIS_URL'> & {
  /** The Redis to use: REDIS_URL, or redis://127.0.0.1:LOCAL_REDIS_PORT when it is unset. */
  REDIS_URL: string;
  /** True when REDIS_URL was set: `npm start` then never starts a Redis of its own. */
  redisUrlGiven: boolean;
  /**
   * The upstream channels at start: UPSTREAMS_FILE's, or the single-upstream variables as one
   * channel per protocol (`default` for MJ, `default-openai` for OpenAI). SIGHUP re-reads the
   * file (loadChannels).
   */
  channels: Channel[];
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment (by default `process.env`); throws ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env files, except where empty is a setting.
  const defined = Object.fromEntries(
    Object.keys(fields.shape)
      .map((k) => [k, env[k]] as const)
      .filter(([k, v]) => v !== undefined && (v !== '' || EMPTY_IS_A_VALUE.has(k))),
  );
  const parsed = schema.safeParse(defined);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`));
  }
  const { REDIS_URL, ...rest } = parsed.data;
  const config = { ...rest, REDIS_URL: REDIS_URL ?? `redis://127.0.0.1:${rest.LOCAL_REDIS_PORT}`, redisUrlGiven: REDIS_URL !== undefined, channels: [] };
  return { ...config, channels: loadChannels(config, env) };
}

/**
 * The channels the configuration names: UPSTREAMS_FILE read again (on SIGHUP too), or the
 * single-upstream variables as one channel each.
 * @throws ChannelFileError listing every mistake in the file, one per line.
 */
export function loadChannels(config: Omit<Config, 'channels'>, env: Record<string, string | undefined> = process.env): Channel[] {
  if (config.UPSTREAMS_FILE) return readChannelFile(config.UPSTREAMS_FILE, env);
  const out: Channel[] = [];
  if (config.MJ_UPSTREAM_URL) out.push(defaultChannel({ name: 'default', type: 'mj', baseUrl: config.MJ_UPSTREAM_URL, key: config.MJ_UPSTREAM_SECRET }));
  if (config.OPENAI_UPSTREAM_URL) out.push(defaultChannel({ name: 'default-openai', type: 'openai', baseUrl: config.OPENAI_UPSTREAM_URL, key: config.OPENAI_UPSTREAM_KEY }));
  return out;
}

/** The OpenAI-compatible upstream, when one is configured (base URL including `/v1`). */
export function openaiUpstream(config: Config): { name: string; baseUrl: string; key: string } | null {
  if (!config.OPENAI_UPSTREAM_URL) return null;
  return { name: 'default', baseUrl: config.OPENAI_UPSTREAM_URL.replace(/\/+$/, ''), key: config.OPENAI_UPSTREAM_KEY };
}

/** The MJ upstream channel, when one is configured. */
export function mjUpstream(config: Config): { name: string; baseUrl: string; secret: string } | null {
  if (!config.MJ_UPSTREAM_URL) return null;
  return { name: 'default', baseUrl: config.MJ_UPSTREAM_URL.replace(/\/+$/, ''), secret: config.MJ_UPSTREAM_SECRET };
}
