import type { Channel } from '../../../shared/channels/config.js';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../../shared/errors.js';
import { readGeneration, type UpstreamGeneration } from '../../../shared/families/luma/protocol.js';
import type { Logger } from '../../../shared/logger.js';
import { faultError, faultIn, looseFault } from '../../upstream/faults.js';
import { requestJson } from '../../upstream/http.js';
import { TaskReadFailed } from '../../tracker-reads.js';

/**
 * A client of one Luma-API-compatible upstream (`baseUrl` is the server root; relayq calls the
 * paths its own clients use). It sends the channel key as `Authorization: Bearer` (Luma-API's
 * SECRET_TOKEN). Answers are read leniently (shared/families/luma/protocol.ts); a 2xx that names
 * no generation is an error, classified by what it says. `timeoutMs` is an idle timeout.
 */
export function createLumaClient(channel: Channel, timeoutMs: number, log?: Logger) {
  const headers: Record<string, string> = channel.key ? { authorization: `Bearer ${channel.key}` } : {};
  const call = (path: string, method: 'GET' | 'POST', json?: unknown, signal?: AbortSignal) =>
    requestJson(`${channel.baseUrl}${path}`, { method, json, headers, timeoutMs, signal, keepBigIntegers: true });

  /**
   * The generation an answer holds; throws what a 2xx without one says (or that it is malformed).
   * With `aboutOne`, an error the upstream gave in a 2xx about that one generation (Luma-API
   * relays wrap a failed generation as `200 {code: 500, message, data: null}`) is the
   * generation's own, permanent TaskReadFailed, unless it says the upstream is busy (429, 503, 504).
   */
  function generationIn(raw: unknown, what: string, aboutOne = false): UpstreamGeneration {
    const g = readGeneration(raw);
    if (g) return g;
    const fault = faultIn(raw) ?? looseFault(raw);
    if (fault) {
      const err = faultError(fault);
      const busy = err instanceof RetryableUpstreamError && [429, 503, 504].includes(err.status ?? 0);
      throw aboutOne && !busy ? new TaskReadFailed(fault.message, true, { cause: err }) : err;
    }
    log?.warn({ channel: channel.name, got: raw !== null && typeof raw === 'object' ? Object.keys(raw).slice(0, 20) : typeof raw }, 'upstream Luma answer without a generation id');
    throw new PermanentUpstreamError(`malformed upstream response (${what} without a generation id)`);
  }

  return {
    channel,

    /**
     * `POST {base}{path}` with the generation request (`/luma/generations`, or
     * `/luma/generations/{upstream id}/extend`). Resolves with the generation the upstream made.
     * @throws RetryableUpstreamError / PermanentUpstreamError as http.ts classifies the answer.
     */
    async submit(path: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<UpstreamGeneration> {
      return generationIn(await call(path, 'POST', body, signal), 'submit answered');
    },

    /**
     * `GET {base}/luma/generations/{id}`; null when the upstream answers 404 (it does not know the
     * generation, or no longer does).
     * @throws TaskReadFailed for an error about this generation in a 2xx answer, else as http.ts classifies.
     */
    async get(upstreamId: string, signal?: AbortSignal): Promise<UpstreamGeneration | null> {
      let raw: unknown;
      try {
        raw = await call(`/luma/generations/${encodeURIComponent(upstreamId)}`, 'GET', undefined, signal);
      } catch (err) {
        if (err instanceof PermanentUpstreamError && err.status === 404) return null;
        throw err;
      }
      return generationIn(raw, 'fetch answered', true);
    },
  };
}

export type LumaClient = ReturnType<typeof createLumaClient>;
