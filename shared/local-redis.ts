import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, realpathSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type * as Testcontainers from 'testcontainers';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { StartupError } from './process.js';
import { redactUrl, redisTarget } from './redis.js';

/** Where private Redis data lives: `<project>/.relayq/redis/<port>/` (AOF under `appendonlydir/`). */
const PROJECT = fileURLToPath(new URL('..', import.meta.url));
const dataDir = (port: number) => join(PROJECT, '.relayq', 'redis', String(port));

/** The Redis `npm start` runs on, and how to let go of it. */
export interface LocalRedis {
  url: string;
  /** One line for the start-up banner: which Redis this is. */
  describe: string;
  /** Stops the Redis when this run started it (after relayq has stopped using it); else nothing. */
  stop(): Promise<void>;
}

const nothing = async () => undefined;

/**
 * The Redis for single-node mode. REDIS_URL or REDIS_CLUSTER_NODES set: exactly that one (never
 * one of our own in its place; the caller's connect reports it when unreachable). Else the Redis at
 * 127.0.0.1:LOCAL_REDIS_PORT when one answers; else a private `redis-server` from PATH on that
 * port (AOF on, `noeviction`, data in `.relayq/redis/<port>/`, stopped by `stop()` or at exit);
 * else a Redis container through Testcontainers (a devDependency, imported only here). Throws a
 * StartupError that says how to get Redis when none of these works.
 */
export async function ensureRedis(config: Config, log: Logger): Promise<LocalRedis> {
  if (config.redisUrlGiven || config.REDIS_CLUSTER_NODES.length > 0) return { url: config.REDIS_URL, describe: `Redis: ${redactUrl(redisTarget(config))}`, stop: nothing };
  const port = config.LOCAL_REDIS_PORT;
  const url = `redis://127.0.0.1:${port}`;
  const dir = dataDir(port);
  const found = await inspect(url, dir);
  if (found === 'foreign' || found === 'ours-in-use') {
    log.info({ redis: url }, found === 'foreign' ? 'using the Redis at the default address' : 'using the private redis-server of another relayq run');
    return { url, describe: `Redis: ${url}`, stop: nothing };
  }
  if (found === 'ours-left') {
    // A run that was killed (SIGKILL) could not stop its redis-server. It holds our data folder,
    // so it is stopped (its AOF flushed) and a fresh one owned by this run takes over.
    await shutdown(url, port);
    log.warn({ redis: url, dir }, 'stopped the private redis-server an earlier run left behind');
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) return startServer(url, port, dir, log);
  const container = await startContainer(dir, log);
  if (container) return container;
  throw new StartupError(
    `no Redis at ${url}, and neither a redis-server on PATH nor a working Docker to start one: install Redis (apt install redis-server, brew install redis), or run docker run -d -p ${port}:6379 redis:7, or set REDIS_URL`,
  );
}

type Found = 'none' | 'foreign' | 'ours-in-use' | 'ours-left';

/** A one-off connection to `url`: the client when it answers PING, else whether TCP connected at all. */
async function probe(url: string): Promise<{ client: Redis | null; reached: boolean }> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', () => undefined);
  let reached = false;
  client.once('connect', () => (reached = true));
  try {
    await client.connect();
    await client.ping();
    return { client, reached };
  } catch {
    client.disconnect();
    return { client: null, reached };
  }
}

/** What answers at `url`: nothing, a Redis that is not ours, or our private one (in use by a live relayq, or left over). */
async function inspect(url: string, dir: string): Promise<Found> {
  const { client, reached } = await probe(url);
  // Something that listens but does not answer PING (a password, not Redis) is not ours, and
  // relayq's own connect then says why in one line.
  if (!client) return reached ? 'foreign' : 'none';
  try {
    const served = ((await client.config('GET', 'dir')) as string[])[1];
    if (!served || served !== realDir(dir)) return 'foreign';
    // Every relayq connection is named `relayq:<role>`; they close when their process dies.
    const clients = (await client.client('LIST')) as string;
    return /\bname=relayq:/.test(clients) ? 'ours-in-use' : 'ours-left';
  } catch {
    return 'foreign'; // CONFIG or CLIENT refused: not a server we started
  } finally {
    client.disconnect();
  }
}

const realDir = (dir: string) => {
  try {
    return realpathSync(dir);
  } catch {
    return null;
  }
};

/** Polls until `url` answers PING (`up`) or stops answering (`!up`); false at the deadline or once `alive` says no. */
async function waitUntil(url: string, up: boolean, alive: () => boolean = () => true, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    const { client } = await probe(url);
    client?.disconnect();
    if (Boolean(client) === up) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function shutdown(url: string, port: number): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  // The server closes the connection as it exits: the reply never comes.
  await r.connect().then(() => r.shutdown()).catch(() => undefined);
  r.disconnect();
  if (!(await waitUntil(url, false))) throw new StartupError(`the redis-server an earlier run left on port ${port} does not stop: stop it (redis-cli -p ${port} shutdown) or set REDIS_URL`);
}

async function startServer(url: string, port: number, dir: string, log: Logger): Promise<LocalRedis> {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'redis.log');
  // Its own process group: a Ctrl-C in the terminal reaches relayq, which drains its work first
  // and only then stops Redis.
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction', '--hash-max-listpack-value', '2048', '--logfile', logFile],
    { cwd: dir, stdio: 'ignore', detached: true },
  );
  child.unref();
  const running = () => child.exitCode === null && child.signalCode === null;
  if (!(await waitUntil(url, true, running))) {
    if (running()) child.kill('SIGKILL');
    throw new StartupError(`the private redis-server did not start on port ${port}: ${lastWarning(logFile)}; set LOCAL_REDIS_PORT to a free port, or set REDIS_URL`);
  }
  // A crash or process.exit() without stop() must not leave it behind.
  const onExit = () => running() && child.kill('SIGTERM');
  process.on('exit', onExit);
  const shown = relative(process.cwd(), dir) || dir;
  log.info({ redis: url, pid: child.pid, dir }, 'no Redis at the default address: started a private redis-server (AOF on, stopped with relayq)');
  return {
    url,
    describe: `Redis: ${url}, a private redis-server started for this run (data in ${shown})`,
    async stop() {
      process.off('exit', onExit);
      if (!running()) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // redis-server flushes the AOF and exits
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
      log.info({ redis: url }, 'private redis-server stopped');
    },
  };
}

/** The last warning redis-server logged (its lines look like `pid:M date # message`). */
function lastWarning(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => / # /.test(l));
    return lines.at(-1)?.split(' # ').slice(1).join(' # ').trim() ?? 'it logged no reason';
  } catch {
    return 'it logged no reason';
  }
}

async function startContainer(dir: string, log: Logger): Promise<LocalRedis | null> {
  let tc: typeof Testcontainers;
  try {
    tc = await import('testcontainers');
  } catch {
    return null; // installed without devDependencies
  }
  mkdirSync(dir, { recursive: true });
  log.info('no redis-server on PATH: trying a Redis container (Testcontainers)');
  try {
    let image = new tc.GenericContainer('redis:7-alpine')
      .withCommand(['redis-server', '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withBindMounts([{ source: dir, target: '/data' }]);
    // As this user, so the files in the data folder stay ours (the image would chown them).
    if (process.getuid && process.getgid) image = image.withUser(`${process.getuid()}:${process.getgid()}`);
    const container = await image.start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    log.info({ redis: url }, 'no Redis at the default address: started a Redis container (Testcontainers; removed with relayq)');
    return {
      url,
      describe: `Redis: ${url}, a Redis container started for this run`,
      async stop() {
        await container.stop();
      },
    };
  } catch (err) {
    log.debug({ err }, 'no Redis container: Docker is not available');
    if (readdirSync(dir).length === 0) rmdirSync(dir); // made for this attempt only
    return null;
  }
}
