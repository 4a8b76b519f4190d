import { isMain, listenError, runMain } from '../shared/process.js';
import { startSim } from './server.js';

if (isMain(import.meta.url)) {
  void runMain('sim', async (config, log) => {
    const sim = await startSim({ host: config.HOST, port: config.SIM_PORT, mjDurationMs: config.SIM_MJ_DURATION_MS, mjSecret: config.MJ_UPSTREAM_SECRET, publicUrl: config.SIM_PUBLIC_URL }).catch((err: unknown) => {
      throw listenError(err, config.HOST, config.SIM_PORT, 'SIM_PORT');
    });
    log.warn({ url: sim.url }, 'upstream simulator listening: every result it gives is simulated');
    return () => sim.close();
  });
}
