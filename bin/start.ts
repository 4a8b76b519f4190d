import { startApi } from '../api/main.js';
import { mjUpstream, openaiUpstream } from '../shared/config.js';
import { randomToken } from '../shared/ids.js';
import { runMain } from '../shared/process.js';
import { startSim } from '../sim/server.js';
import { startWorker } from '../worker/main.js';

/**
 * Single-node mode (`npm start`): API and all workers in one process. Without an upstream it
 * runs the simulator in-process; without API_KEYS it makes one key and prints it once.
 */
void runMain('single-node', async (config, log) => {
  if (config.API_KEYS.length === 0) {
    const secret = `sk-${randomToken(40)}`;
    config.API_KEYS = [{ tenant: 'default', secret }];
    // Printed once, to the terminal only: never through the logger.
    process.stdout.write(
      `\n  relayq: API_KEYS is empty, so this run uses a generated key for tenant "default":\n\n      ${secret}\n\n` +
        `  Set API_KEYS=default:<your key> to keep one across restarts.\n\n`,
    );
  }
  let stopSim: (() => Promise<void>) | null = null;
  const missing = [!mjUpstream(config) && 'MJ_UPSTREAM_URL', !openaiUpstream(config) && 'OPENAI_UPSTREAM_URL'].filter(Boolean);
  if (missing.length > 0) {
    const sim = await startSim({ host: '127.0.0.1', port: 0, mjDurationMs: config.SIM_MJ_DURATION_MS });
    if (!mjUpstream(config)) config.MJ_UPSTREAM_URL = sim.url;
    if (!openaiUpstream(config)) config.OPENAI_UPSTREAM_URL = `${sim.url}/v1`;
    stopSim = () => sim.close();
    log.warn(
      { simulator: sim.url, simulated: missing },
      `!!! NO UPSTREAM CONFIGURED (${missing.join(', ')}): using the built-in upstream SIMULATOR — those results are SIMULATED. !!!`,
    );
  }
  const stopWorker = await startWorker(config, log.child({ component: 'worker' }));
  const api = await startApi(config, log.child({ component: 'api' }));
  process.stdout.write(`  relayq is listening on ${api.url}\n\n`);
  return async () => {
    await api.stop();
    await stopWorker();
    await stopSim?.();
  };
});
