import { PermanentUpstreamError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import { readEnvelope, readFetchList, submittedId, type Odd, type SunoUpstreamTask } from '../../../shared/families/suno/upstream.js';
import { faultError, faultIn, looseFault } from '../../upstream/faults.js';
import { requestJson } from '../../upstream/http.js';

/** The longest wait for suno-api's answer to a lyrics submit, which comes when the lyrics are done (ms). */
const LYRICS_WAIT_MS = 180_000;

export interface SunoChannel {
  name: string;
  baseUrl: string;
  key: string;
}

/**
 * A client of one suno-api-compatible upstream: `POST {baseUrl}/suno/submit/{music,lyrics}` and
 * the batch read `POST {baseUrl}/suno/fetch` `{ids}`, with `Authorization: Bearer <key>` (what
 * new-api sends its Suno channels). Answers are classified here: a non-2xx by its status
 * (worker/upstream/http.ts; suno-api's 400 `invalid_request` is a refusal, its 500
 * `internal_error` is retried); a 2xx envelope whose `code` is not `"success"` by that code and
 * message (faultError: `internal_error` is retried, anything else is a refusal); a 2xx that is no
 * envelope is a malformed answer. `timeoutMs` is an idle timeout (see RequestOptions).
 */
export function createSunoClient(channel: SunoChannel, timeoutMs: number, log?: Logger) {
  const headers: Record<string, string> = channel.key ? { authorization: `Bearer ${channel.key}` } : {};
  // Task ids may be integers past 2^53 (`"data": 12345678901234567890`): they arrive as text, every digit kept.
  const call = (path: string, json: unknown, signal?: AbortSignal, headersTimeoutMs?: number) =>
    requestJson(`${channel.baseUrl}${path}`, { method: 'POST', json, headers, timeoutMs, headersTimeoutMs, signal, keepBigIntegers: true });
  // Only the field and the JSON type of the value: values may hold lyrics or links.
  const odd =
    (where: string): Odd =>
    (field, value) =>
      log?.debug({ channel: channel.name, where, field, got: value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value }, 'odd field in upstream Suno answer');

  /** The error a 2xx answer that is not a success means. */
  function refusal(raw: unknown, what: string): Error {
    const env = readEnvelope(raw);
    if (env && !env.ok) return faultError({ message: env.message ?? `upstream refused the ${what} (code ${env.code})`, type: null, code: env.code, param: null, status: null });
    // No suno-api envelope: a relay may have answered in the OpenAI error shape (new-api, one-api).
    const fault = faultIn(raw) ?? looseFault(raw);
    if (fault) return faultError(fault);
    return new PermanentUpstreamError(`malformed upstream response (not a suno-api ${what} answer)`);
  }

  return {
    channel,

    /**
     * Submits a task; resolves to the upstream's task id.
     * @throws RetryableUpstreamError / PermanentUpstreamError as classified above.
     */
    async submit(action: 'music' | 'lyrics', body: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
      // suno-api answers a lyrics submit only once the lyrics exist (it polls Suno every 5 s for up
      // to 2 min before it says anything): that wait is not an upstream gone silent.
      const raw = await call(`/suno/submit/${action}`, body, signal, action === 'lyrics' ? Math.max(timeoutMs, LYRICS_WAIT_MS) : undefined);
      const env = readEnvelope(raw, odd('submit'));
      if (!env?.ok) throw refusal(raw, 'submit');
      const id = submittedId(env.data, odd('submit'));
      if (!id) throw new PermanentUpstreamError('malformed upstream response (accepted without a task id)');
      return id;
    },

    /** Many upstream tasks in one request; ids the upstream does not report are simply absent. */
    async fetch(ids: string[], signal?: AbortSignal): Promise<SunoUpstreamTask[]> {
      const raw = await call('/suno/fetch', { ids }, signal);
      const list = readFetchList(raw, odd('fetch'));
      if (!list) throw refusal(raw, 'fetch');
      if (list.unusable > 0) log?.warn({ channel: channel.name, unusable: list.unusable }, 'upstream Suno tasks without a usable task_id skipped');
      return list.tasks;
    },
  };
}

export type SunoClient = ReturnType<typeof createSunoClient>;
