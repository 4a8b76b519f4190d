import { basename, dirname } from 'node:path';
import { trace } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BullMQOtel } from 'bullmq-otel';
import { installTelemetry } from './index.js';

/** The service name of a role from its entry script: `api/main.ts` → `relayq-api`, `worker/main.ts` → `relayq-worker`. */
export function serviceNameOf(entry: string): string {
  const dir = basename(dirname(entry));
  if (basename(entry).startsWith('main.') && (dir === 'api' || dir === 'worker' || dir === 'sim')) return `relayq-${dir}`;
  return 'relayq';
}

/**
 * Starts the OpenTelemetry SDK: spans of incoming and outgoing HTTP (node:http and undici/fetch,
 * so the API's requests and the worker's upstream calls) and of BullMQ jobs, exported as OTLP over
 * HTTP with JSON bodies to `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. `OTEL_SERVICE_NAME`, when
 * set, wins over the name derived from `entry`. Loaded only when tracing is on.
 */
export async function startTracing(entry: string): Promise<void> {
  const sdk = new NodeSDK({
    // The SDK gives OTEL_SERVICE_NAME precedence over this.
    serviceName: serviceNameOf(entry),
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      new HttpInstrumentation({
        // Health probes every few seconds would drown the traces that matter.
        ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)(\?|$)/.test(req.url ?? ''),
      }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  installTelemetry({
    bullmq: new BullMQOtel('relayq'),
    nameServerSpan(method, route) {
      const span = trace.getActiveSpan();
      span?.updateName(`${method} ${route}`);
      span?.setAttribute('http.route', route);
    },
    shutdown: () => sdk.shutdown(),
  });
}
