import { PermanentUpstreamError } from '../../../shared/errors.js';
import { readUpstreamVideo, type UpstreamVideo } from '../../../shared/families/video/upstream.js';
import { faultError, faultIn, looseFault } from '../../upstream/faults.js';
import { checkStatus, quoteBigIntegers, readBody, send } from '../../upstream/http.js';

export interface VideoChannel {
  name: string;
  /** Base URL including `/v1`: relayq calls `{baseUrl}/videos`. */
  baseUrl: string;
  key: string;
}

const snippet = (text: string) => {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
};

/**
 * Reads a 2xx answer that must be a Video object. A body with an id is the video, even when it
 * carries `error` (a failed video does); one without is judged by what it says: an error body
 * throws the error it means (faults.ts), anything else is a malformed answer (permanent 502).
 */
export function judgeVideo(body: Buffer): UpstreamVideo {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    // A numeric id past 2^53 (`"task_id": 12345678901234567890`) keeps every digit, as text.
    parsed = JSON.parse(quoteBigIntegers(text));
  } catch {
    throw new PermanentUpstreamError(`upstream answered with a body that is not JSON where a video object was expected ("${snippet(text)}")`, 502);
  }
  const video = readUpstreamVideo(parsed);
  if (video) return video;
  const fault = faultIn(parsed) ?? looseFault(parsed);
  if (fault) throw faultError(fault);
  throw new PermanentUpstreamError(`upstream answered with JSON that is not a video object (no id: "${snippet(text)}")`, 502);
}

/**
 * A client of one OpenAI-compatible `/v1/videos` upstream (OpenAI Videos API): requests are
 * forwarded as the client sent them (JSON or multipart, content type with its boundary). Non-2xx
 * answers throw their classified error (worker/upstream/http.ts). `timeoutMs` is an idle timeout.
 */
export function createVideoClient(channel: VideoChannel, timeoutMs: number) {
  const auth: Record<string, string> = channel.key ? { authorization: `Bearer ${channel.key}` } : {};
  const url = (path: string) => `${channel.baseUrl}/videos${path}`;

  async function call(path: string, opts: { method: 'GET' | 'POST' | 'DELETE'; body?: Buffer; contentType?: string; signal?: AbortSignal }): Promise<Buffer> {
    const headers = { ...auth, ...(opts.contentType ? { 'content-type': opts.contentType } : {}) };
    const req = { method: opts.method, headers, body: opts.body, timeoutMs, signal: opts.signal };
    const { res, idle } = await send(url(path), req);
    const bytes = await readBody(res, req, idle);
    checkStatus(res, bytes);
    return bytes;
  }

  return {
    channel,
    /** POST /videos: a new video, from the client's own body. */
    async create(body: Buffer, contentType: string, signal?: AbortSignal): Promise<UpstreamVideo> {
      return judgeVideo(await call('', { method: 'POST', body, contentType, signal }));
    },
    /** POST /videos/{id}/remix: a remix of the upstream's video `id`. */
    async remix(id: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<UpstreamVideo> {
      return judgeVideo(await call(`/${encodeURIComponent(id)}/remix`, { method: 'POST', body, contentType, signal }));
    },
    /**
     * GET /videos/{id}; null when the upstream no longer knows it: a 404, or new-api's refusal of
     * an unknown task (HTTP 400, code `task_not_exist`).
     */
    async retrieve(id: string, signal?: AbortSignal): Promise<UpstreamVideo | null> {
      try {
        const video = judgeVideo(await call(`/${encodeURIComponent(id)}`, { method: 'GET', signal }));
        // A relay may name the video by its own upstream's id: the answer is still about this one.
        return video.id === id ? video : { ...video, id };
      } catch (err) {
        if (err instanceof PermanentUpstreamError && (err.status === 404 || err.upstreamError?.code === 'task_not_exist')) return null;
        throw err;
      }
    },
    /** DELETE /videos/{id}: the upstream drops the video (and stops it, where it can); a 404 is done already. */
    async remove(id: string, signal?: AbortSignal): Promise<void> {
      try {
        await call(`/${encodeURIComponent(id)}`, { method: 'DELETE', signal });
      } catch (err) {
        if (err instanceof PermanentUpstreamError && err.status === 404) return;
        throw err;
      }
    },
  };
}

export type VideoClient = ReturnType<typeof createVideoClient>;
