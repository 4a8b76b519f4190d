/**
 * Preload for every role: `node --import tsx --import ./shared/telemetry/preload.ts <entry>`.
 * With `OTEL_EXPORTER_OTLP_ENDPOINT` set it starts OpenTelemetry tracing before the role's own
 * modules load, so the HTTP instrumentation patches `http` before Fastify takes it; without it,
 * this file does nothing and the SDK is never loaded.
 *
 * The OpenTelemetry SDK reads its own `OTEL_*` variables (endpoint, headers, service name,
 * sampler, batch delays); relayq only decides whether to load it.
 */
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
  const { startTracing } = await import('./sdk.js');
  await startTracing(process.argv[1] ?? '');
}
export {};
