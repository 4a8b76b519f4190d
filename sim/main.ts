import { isMain, runMain } from '../shared/process.js';
import { startSim } from './server.js';

if (isMain(import.meta.url)) {
  void runMain('sim', async (config, log) => {
    const sim = await startSim({ host: config.HOST, port: config.SIM_PORT, mjDurationMs: config.SIM_MJ_DURATION_MS, mjSecret: config.MJ_UPSTREAM_SECRET });
    log.warn({ url: sim.url }, 'upstream simulator listening: every result it gives is simulated');
    return () => sim.close();
  });
}
