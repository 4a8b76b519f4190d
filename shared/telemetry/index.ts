import type { Telemetry } from 'bullmq';

/**
 * OpenTelemetry tracing, as the rest of relayq sees it. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
 * the preload (shared/telemetry/preload.ts, run with `node --import`) starts the OpenTelemetry
 * SDK before anything else loads and installs the hooks below; otherwise nothing is installed,
 * the SDK is never imported and every function here is a no-op.
 */
export interface TelemetryHooks {
  /** BullMQ's telemetry (bullmq-otel): spans for adding and processing jobs, context carried in the job. */
  bullmq: Telemetry;
  /** Names the active HTTP server span after its route (`POST /v1/tasks/:id`) and sets `http.route`. */
  nameServerSpan(method: string, route: string): void;
  /** Flushes the spans still buffered and stops the SDK (call before the process exits). */
  shutdown(): Promise<void>;
}

// On globalThis: the preload and the role may hold two instances of this module (loaded through
// different specifiers), and both must see the one set of hooks.
const KEY = Symbol.for('relayq.telemetry');
type Holder = { [KEY]?: TelemetryHooks };

/** Installs the hooks (the preload does, once the SDK runs). */
export function installTelemetry(hooks: TelemetryHooks): void {
  (globalThis as Holder)[KEY] = hooks;
}

const hooks = (): TelemetryHooks | undefined => (globalThis as Holder)[KEY];

/**
 * The `telemetry` option for a BullMQ Queue or Worker: `{ telemetry }` when tracing is on, `{}`
 * otherwise (no option at all, so BullMQ takes its untraced path).
 */
export function bullTelemetry(): { telemetry?: Telemetry } {
  const h = hooks();
  return h ? { telemetry: h.bullmq } : {};
}

/**
 * With tracing on, a function that names the current HTTP server span after its route (the HTTP
 * instrumentation alone knows only the method); null when tracing is off.
 */
export function serverSpanNamer(): TelemetryHooks['nameServerSpan'] | null {
  const h = hooks();
  return h ? (method, route) => h.nameServerSpan(method, route) : null;
}

/**
 * Flushes and stops tracing, waiting at most `capMs` (an unreachable collector must not hold up
 * the exit); resolves at once when tracing is off. Never throws.
 */
export async function shutdownTelemetry(capMs = 5_000): Promise<void> {
  const h = hooks();
  if (!h) return;
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, capMs);
    timer.unref();
  });
  await Promise.race([h.shutdown().catch(() => undefined), cap]);
  clearTimeout(timer);
}
