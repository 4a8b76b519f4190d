import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';

/** True when the module at `url` is the script node was started with. */
export const isMain = (url: string) => process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === url;

/**
 * Runs a process role: parses the config (a bad one exits 1 with one line per problem), starts
 * the role (a failure exits 1 with one readable line), and on SIGTERM/SIGINT stops it and exits.
 */
export async function runMain(role: string, start: (config: Config, log: Logger) => Promise<() => Promise<void>>): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line that names every bad variable.
      process.stderr.write(`relayq ${role}: invalid configuration: ${err.problems.join('; ')}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL).child({ role });
  let stop: () => Promise<void>;
  try {
    stop = await start(config, log);
  } catch (err) {
    process.stderr.write(`relayq ${role}: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
