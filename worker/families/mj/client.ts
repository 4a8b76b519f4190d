import { ChannelRefusedError, PermanentUpstreamError, RetryableUpstreamError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import { MJ_CODES, readSubmitEnvelope, readUpstreamTask, type UpstreamTask } from '../../../shared/families/mj/protocol.js';
import type { MjRequest } from '../../../shared/families/mj/task.js';
import { faultError, faultIn, looseFault } from '../../upstream/faults.js';
import { requestJson } from '../../upstream/http.js';

export interface MjChannel {
  name: string;
  baseUrl: string;
  secret: string;
}

export interface SubmitAnswer {
  code: number;
  upstreamId: string;
  properties: Record<string, unknown>;
}

const modePath = (mode: MjRequest['mode']) => (mode ? `/mj-${mode.toLowerCase()}` : '');

/** new-api's MJ relay answers code 30 when its own upstream channel said 429 ("当前分组负载已饱和"). */
const RELAY_SATURATED = 30;

/** Submits that name a parent task: for them code 3 may also mean the parent is gone. */
const NAMES_A_PARENT = /\/submit\/(action|modal|simple-change|change)$/;
/** Refusals about the proxy's own Discord accounts (none available, unavailable, banned), not the prompt. */
const ACCOUNT_TROUBLE = /账号|帐号|账户|\baccounts?\b|\bbanned\b(?!\s+(word|prompt))/i;

/**
 * Whether a refusal concerns the channel's accounts rather than the request: midjourney-proxy's
 * code 3 on a first submission is only ever "no available account" (无可用的账号实例), and codes
 * 3 and 4 also carry account trouble ("account unavailable", a banned account) — those proxies
 * give no separate code for it, so the description tells them apart from a missing parent task
 * (code 3) or a refused prompt (code 4).
 */
export function concernsAccount(code: number, description: string, path: string): boolean {
  if (code === MJ_CODES.NOT_FOUND && !NAMES_A_PARENT.test(path)) return true;
  return (code === MJ_CODES.NOT_FOUND || code === MJ_CODES.VALIDATION_ERROR) && ACCOUNT_TROUBLE.test(description);
}

/**
 * A client of one Midjourney-proxy-compatible upstream. Submit answers are classified here:
 * codes 1/22 (and 21, which the caller handles) are accepted; 9 and 23 are worth retrying, and 30
 * (a new-api relay whose own channel was rate limited) as a 429; a refusal about the proxy's
 * accounts (concernsAccount) is a ChannelRefusedError; any other code is a refusal carrying the
 * upstream's description (or its message, see readSubmitEnvelope). Answers are read leniently
 * (shared/mj/upstream.ts); what was odd is logged at debug level, unusable tasks at warn.
 * `timeoutMs` is an idle timeout (see RequestOptions).
 */
export function createMjClient(channel: MjChannel, timeoutMs: number, log?: Logger) {
  const headers: Record<string, string> = channel.secret ? { 'mj-api-secret': channel.secret } : {};
  // Long numeric ids keep every digit: integers past 2^53 arrive as strings.
  const call = (path: string, json: unknown, signal?: AbortSignal, method: 'GET' | 'POST' = 'POST') =>
    requestJson(`${channel.baseUrl}${path}`, { method, json, headers, timeoutMs, signal, keepBigIntegers: true });
  // Only the field and the JSON type of the value: values may hold prompts or links.
  const odd = (where: string) => (field: string, value: unknown) =>
    log?.debug({ channel: channel.name, where, field, got: value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value }, 'odd field in upstream MJ answer');

  function envelope(raw: unknown) {
    const r = readSubmitEnvelope(raw, odd('submit'));
    if (r) return r;
    // No MJ code: a relay may have answered in the OpenAI error shape (new-api, one-api).
    const fault = faultIn(raw) ?? looseFault(raw);
    if (fault) throw faultError(fault);
    throw new PermanentUpstreamError('malformed upstream response (not a submit result)');
  }

  return {
    channel,

    /** POST /mj/submit/<what> (or `/mj/insight-face/swap`); resolves for codes 1, 21, 22. */
    async submit(path: string, body: Record<string, unknown>, mode: MjRequest['mode'], signal?: AbortSignal): Promise<SubmitAnswer> {
      const res = envelope(await call(`${modePath(mode)}${path}`, body, signal));
      const description = res.description ?? `code ${res.code}`;
      if (res.code === MJ_CODES.SUCCESS || res.code === MJ_CODES.IN_QUEUE || res.code === MJ_CODES.EXISTED) {
        if (res.result === null) throw new PermanentUpstreamError('malformed upstream response (accepted without a task id)');
        return { code: res.code, upstreamId: res.result, properties: res.properties };
      }
      if (res.code === MJ_CODES.FAILURE || res.code === MJ_CODES.QUEUE_REJECTED) throw new RetryableUpstreamError(`upstream busy (code ${res.code}): ${description}`);
      if (res.code === RELAY_SATURATED) throw new RetryableUpstreamError(`upstream rate limited (code ${res.code}): ${description}`, 429);
      if (concernsAccount(res.code, description, path)) throw new ChannelRefusedError(`upstream account unavailable (code ${res.code}): ${description}`, undefined, res.code);
      throw new PermanentUpstreamError(description, undefined, res.code);
    },

    /** Many upstream tasks in one request; unknown ids are simply absent. */
    async listByCondition(ids: string[], signal?: AbortSignal): Promise<UpstreamTask[]> {
      const raw = await call('/mj/task/list-by-condition', { ids }, signal);
      if (!Array.isArray(raw)) throw new PermanentUpstreamError('malformed upstream response (list-by-condition is not an array)');
      return raw.flatMap((item) => {
        const t = readUpstreamTask(item, odd('list-by-condition'));
        if (!t) log?.warn({ channel: channel.name, got: typeof item === 'object' && item ? Object.keys(item).slice(0, 20) : typeof item }, 'upstream MJ task without a usable id skipped');
        return t ? [t] : [];
      });
    },

    /** `{code:1, result:"<seed>"}` or a refusal. */
    async imageSeed(upstreamId: string): Promise<string | null> {
      const res = envelope(await call(`/mj/task/${encodeURIComponent(upstreamId)}/image-seed`, undefined, undefined, 'GET'));
      return res.code === MJ_CODES.SUCCESS && res.result ? String(res.result) : null;
    },

    async cancel(upstreamId: string): Promise<void> {
      await call(`/mj/task/${encodeURIComponent(upstreamId)}/cancel`, {});
    },
  };
}

export type MjClient = ReturnType<typeof createMjClient>;
