import http from 'node:http';
import https from 'node:https';
import { parseRetryAfter } from '../upstream/http.js';
import { pinnedLookup, type ResolvedTarget } from '../../shared/ssrf.js';

export interface SendResult {
  status: number;
  retryAfterMs?: number;
}

/**
 * POSTs one webhook to the address that was checked (TLS still verifies the URL's host name).
 * Redirects are not followed: a 3xx is an answer like any other non-2xx. Rejects on timeouts
 * and connection errors.
 */
export function postWebhook(url: URL, target: ResolvedTarget, headers: Record<string, string>, body: string, timeoutMs: number): Promise<SendResult> {
  const pinned = pinnedLookup(target);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'relayq-webhooks/1', ...headers }, lookup: pinned });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    req.on('response', (res) => {
      // The body is not needed; read a little and let the rest go.
      res.resume();
      let ended = false;
      res.on('close', () => {
        clearTimeout(timer);
        if (!ended) reject(new Error('connection closed before the answer ended'));
      });
      res.on('end', () => {
        ended = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, retryAfterMs: parseRetryAfter(typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null) });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
