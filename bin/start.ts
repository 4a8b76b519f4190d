import { startApi, type RunningApi } from '../api/main.js';
import { CHANNEL_TYPES, defaultChannel, type Channel } from '../shared/channels/config.js';
import { createChannelRegistry } from '../shared/channels/registry.js';
import type { Config } from '../shared/config.js';
import { randomToken } from '../shared/ids.js';
import { ensureRedis, type LocalRedis } from '../shared/local-redis.js';
import type { Logger } from '../shared/logger.js';
import { runMain } from '../shared/process.js';
import { startSim, type Sim } from '../sim/server.js';
import { startWorker } from '../worker/main.js';

/**
 * Single-node mode (`npm start`): API and all workers in one process. Without a configured
 * Redis it finds or starts one (shared/local-redis.ts); without an upstream it runs the
 * simulator in-process on SIM_PORT; without API_KEYS it makes one key and prints it once.
 *
 * Order: Redis answers, then the API port is bound, and only then does anything take work or get
 * printed: a start that fails (port in use, no Redis) leaves no key on the screen, no simulator,
 * no worker and nothing in Redis.
 */
void runMain('single-node', async (config, log) => {
  let redis: LocalRedis | null = null;
  let api: RunningApi | null = null;
  let sim: Sim | null = null;
  let stopWorker: (() => Promise<void>) | null = null;
  let reload: (() => void) | undefined;
  // The API and the workers drain together (open streams need the workers that feed them), within
  // one grace period; then the upstream simulator and Redis go.
  const stop = async () => {
    await Promise.all([api?.stop(), stopWorker?.()]);
    await sim?.close();
    await redis?.stop();
  };
  try {
    redis = await ensureRedis(config, log);
    config.REDIS_URL = redis.url;
    const generated = config.API_KEYS.length === 0 ? `sk-${randomToken(40)}` : null;
    if (generated) config.API_KEYS = [{ tenant: 'default', secret: generated }];
    // One channel set for the API (admin view) and the workers; the simulator's channels stay
    // across SIGHUP reloads of UPSTREAMS_FILE.
    const registry = createChannelRegistry(config.channels);
    // `part`, not `component`: the worker's own children (tracker, webhooks…) are components.
    api = await startApi(config, log.child({ part: 'api' }), { registry });
    config.PUBLIC_URL ||= api.url;
    const simulated = CHANNEL_TYPES.filter((type) => !config.channels.some((c) => c.type === type));
    if (simulated.length > 0) {
      sim = await startLocalSim(config, log);
      const local = sim;
      const extra: Channel[] = simulated.flatMap((type) => {
        const baseUrl = local.baseUrlFor(type);
        return baseUrl ? [defaultChannel({ name: `simulator-${type}`, type, baseUrl, key: '' })] : [];
      });
      registry.reload(config.channels, extra);
      log.warn(
        { simulator: sim.url, simulated },
        `!!! NO UPSTREAM CONFIGURED (${simulated.join(', ')}): using the built-in upstream SIMULATOR — those results are SIMULATED. !!!`,
      );
    }
    const worker = await startWorker(config, log.child({ part: 'worker' }), { registry });
    stopWorker = worker.stop;
    reload = worker.reload;
    process.stdout.write(banner({ key: generated, api: api.url, sim: sim?.url ?? null, redis: redis.describe }));
  } catch (err) {
    await stop().catch((stopErr: unknown) => log.error({ err: stopErr }, 'cleanup after a failed start failed'));
    throw err;
  }
  return { stop, reload: () => reload?.() };
});

/**
 * The simulator on SIM_PORT (default 8090, where `POST /_sim/faults` is documented to be). When
 * that port is taken (say by a separate `npm run sim`), single-node mode still starts: the
 * simulator takes a free port and the warning and the banner name it.
 */
async function startLocalSim(config: Config, log: Logger): Promise<Sim> {
  const opts = { host: '127.0.0.1', mjDurationMs: config.SIM_MJ_DURATION_MS, publicUrl: config.SIM_PUBLIC_URL };
  try {
    return await startSim({ ...opts, port: config.SIM_PORT });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const sim = await startSim({ ...opts, port: 0 });
    log.warn({ simPort: config.SIM_PORT, simulator: sim.url }, 'SIM_PORT is in use: the simulator listens on a free port instead (see "simulator")');
    return sim;
  }
}

/** What a person at the terminal needs, printed once and never through the logger (it may hold the key). */
function banner(p: { key: string | null; api: string; sim: string | null; redis: string }): string {
  const lines = [''];
  if (p.key) {
    lines.push(
      `  relayq: API_KEYS is empty, so this run uses a generated key for tenant "default":`,
      '',
      `      ${p.key}`,
      '',
      `  Set API_KEYS=default:<your key> to keep one across restarts.`,
      '',
    );
  }
  lines.push(`  relayq is listening on ${p.api}`);
  if (p.sim) lines.push(`  upstream SIMULATOR (results are simulated): ${p.sim} (inject faults with POST ${p.sim}/_sim/faults)`);
  lines.push(`  ${p.redis}`, '', '');
  return lines.join('\n');
}
