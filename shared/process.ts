import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { ChannelFileError } from './channels/config.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { shutdownTelemetry } from './telemetry/index.js';

/** True when the module at `url` is the script node was started with. */
export const isMain = (url: string) => process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === url;

/** A started role: `stop` drains and closes it; `reload` (SIGHUP) re-reads what can change live. */
export interface RunningRole {
  stop(): Promise<void>;
  reload?(): void | Promise<void>;
}

/** A process cannot start; the message is the one line to print: what is wrong and what to do. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * The error of a failed `listen` on `host:port`, as a StartupError that names the variable to
 * change (`PORT`, `SIM_PORT`) when the cause is one a user can fix; other errors pass through.
 */
export function listenError(err: unknown, host: string, port: number, variable: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return new StartupError(`port ${port} is in use on ${host}: stop what listens there or set ${variable}`);
  if (code === 'EACCES') return new StartupError(`port ${port} on ${host} needs privileges this process lacks: set ${variable} to 1024 or above`);
  if (code === 'EADDRNOTAVAIL') return new StartupError(`${host} is not an address of this machine: set HOST`);
  return err;
}

/** An error as one line (a start-up failure is printed as exactly one line). */
const oneLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();

/**
 * Runs a process role: parses the config (a bad one exits 1 with one line per problem), starts
 * the role (a failure exits 1 with one readable line and no stack trace), and on SIGTERM/SIGINT
 * stops it and exits 0.
 *
 * The signal handlers are installed before anything starts: a signal during start-up stops the
 * role as soon as it is up, and node running as a container's PID 1 gets no default action for
 * SIGTERM, so without a handler `docker stop` would wait for its SIGKILL.
 */
export async function runMain(role: string, start: (config: Config, log: Logger) => Promise<RunningRole | (() => Promise<void>)>): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line that names every bad variable.
      process.stderr.write(`relayq ${role}: invalid configuration: ${err.problems.join('; ')}\n`);
      process.exit(1);
    }
    if (err instanceof ChannelFileError) {
      // One line per mistake in the file, each saying where it is.
      process.stderr.write(`relayq ${role}: invalid UPSTREAMS_FILE ${err.file}:\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
      process.exit(1);
    }
    throw err;
  }
  // Lines go out asynchronously (written off the event loop, several at once under load); pino
  // writes what is left synchronously when the process exits.
  const log = createLogger(config.LOG_LEVEL, pino.destination({ dest: 1, sync: false })).child({ role });
  let stop: (() => Promise<void>) | null = null;
  let signal: string | null = null;
  const shutdown = () => {
    if (!stop || !signal) return;
    log.info({ signal }, 'shutting down');
    stop()
      // The spans of the last requests and jobs go out before the process does.
      .then(() => shutdownTelemetry())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
    stop = null;
  };
  let firstAt = 0;
  const onSignal = (name: string) => {
    // Ctrl-C on `npm start` arrives twice within milliseconds (the terminal signals the whole
    // process group, and npm forwards it): only a later one is a second signal.
    if (signal && Date.now() - firstAt < 300) return;
    if (signal) {
      // A second signal: the person (or the orchestrator) will not wait for the drain.
      log.warn({ signal: name }, 'second signal: exiting now; unfinished jobs go to other workers');
      process.exit(1);
    }
    signal = name;
    firstAt = Date.now();
    // Whatever hangs in the drain, the process is gone a little after its grace period.
    setTimeout(() => {
      log.error({ graceSeconds: config.SHUTDOWN_GRACE_SECONDS }, 'shutdown took longer than its grace period; exiting now');
      process.exit(1);
    }, (config.SHUTDOWN_GRACE_SECONDS + 10) * 1000).unref();
    shutdown();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let reload: RunningRole['reload'];
  // SIGHUP re-reads what can change without a restart (the channels); work in flight goes on.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading');
    Promise.resolve(reload?.()).catch((err: unknown) => log.error({ err }, 'reload failed'));
  });
  try {
    const started = await start(config, log);
    stop = typeof started === 'function' ? started : started.stop;
    reload = typeof started === 'function' ? undefined : started.reload;
  } catch (err) {
    // The stack, for LOG_LEVEL=debug only: the reason is the one line below.
    log.debug({ err }, 'start failed');
    process.stderr.write(`relayq ${role}: cannot start: ${oneLine(err)}\n`);
    process.exit(1);
  }
  // A signal that came while starting.
  shutdown();
}
