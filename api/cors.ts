import type { FastifyCorsOptions } from '@fastify/cors';

/**
 * Response headers a browser client may read: the task an answer concerns, where to poll it
 * (`Location` of a 202), and the retry advice the SDKs follow; families add their own
 * (ApiFamily.exposedHeaders). Without this list a cross-origin script sees none of them.
 */
export const EXPOSED_HEADERS = ['x-relayq-task-id', 'location', 'retry-after', 'retry-after-ms', 'x-should-retry'];

/**
 * CORS for browser clients that call relayq directly (midjourney-proxy web clients where the
 * user sets the server address, the OpenAI SDK with `dangerouslyAllowBrowser`), as
 * @fastify/cors options. `origins` is CORS_ORIGINS: `['*']` for any origin (sent as `*`), or
 * the allowed origins (the request's origin is echoed when listed, with `Vary: Origin`).
 *
 * Preflights are answered before authentication (a browser never sends the key on one), with
 * the request headers the browser asks for (`mj-api-secret`, `authorization`, `prefer`,
 * `idempotency-key`, the SDKs' `x-stainless-*`, …) echoed back. Keys travel in headers, never
 * cookies, so credentials stay off. `exposed` adds response headers scripts may read (the
 * families' own) to EXPOSED_HEADERS.
 */
export function corsOptions(origins: readonly string[], exposed: readonly string[] = []): FastifyCorsOptions {
  return {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    exposedHeaders: [...new Set([...EXPOSED_HEADERS, ...exposed])],
    credentials: false,
    // Chromium caps the cache of a preflight at 2 h; without the header it keeps it 5 s.
    maxAge: 7200,
    // An OPTIONS without Origin is no browser preflight; answering it 204 beats a text/plain 400.
    strictPreflight: false,
  };
}
