import { z } from 'zod';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { MJ_CODES, submitResultSchema, upstreamTaskSchema, type UpstreamTask } from '../../shared/mj/protocol.js';
import type { MjRequest } from '../../shared/tasks/model.js';
import { requestJson } from './http.js';

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

/**
 * A client of one Midjourney-proxy-compatible upstream. Submit answers are classified here:
 * codes 1/22 (and 21, which the caller handles) are accepted; 9 and 23 are worth retrying; any
 * other code is a refusal carrying the upstream's description.
 */
export function createMjClient(channel: MjChannel, timeoutMs: number) {
  const headers: Record<string, string> = channel.secret ? { 'mj-api-secret': channel.secret } : {};
  const call = (path: string, json: unknown, signal?: AbortSignal, method: 'GET' | 'POST' = 'POST') =>
    requestJson(`${channel.baseUrl}${path}`, { method, json, headers, timeoutMs, signal });

  function envelope(raw: unknown) {
    const r = submitResultSchema.safeParse(raw);
    if (!r.success) throw new PermanentUpstreamError('malformed upstream response (not a submit result)');
    return r.data;
  }

  return {
    channel,

    /** POST /mj/submit/<what> (or `/mj/insight-face/swap`); resolves for codes 1, 21, 22. */
    async submit(path: string, body: Record<string, unknown>, mode: MjRequest['mode'], signal?: AbortSignal): Promise<SubmitAnswer> {
      const res = envelope(await call(`${modePath(mode)}${path}`, body, signal));
      const description = res.description ?? `code ${res.code}`;
      if (res.code === MJ_CODES.SUCCESS || res.code === MJ_CODES.IN_QUEUE || res.code === MJ_CODES.EXISTED) {
        if (res.result === null || res.result === undefined || res.result === '') throw new PermanentUpstreamError('malformed upstream response (accepted without a task id)');
        return { code: res.code, upstreamId: String(res.result), properties: res.properties ?? {} };
      }
      if (res.code === MJ_CODES.FAILURE || res.code === MJ_CODES.QUEUE_REJECTED) throw new RetryableUpstreamError(`upstream busy (code ${res.code}): ${description}`);
      throw new PermanentUpstreamError(description, undefined, res.code);
    },

    /** Many upstream tasks in one request; unknown ids are simply absent. */
    async listByCondition(ids: string[], signal?: AbortSignal): Promise<UpstreamTask[]> {
      const raw = await call('/mj/task/list-by-condition', { ids }, signal);
      const r = z.array(z.unknown()).safeParse(raw);
      if (!r.success) throw new PermanentUpstreamError('malformed upstream response (list-by-condition is not an array)');
      return r.data.flatMap((item) => {
        const t = upstreamTaskSchema.safeParse(item);
        return t.success ? [t.data] : [];
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
