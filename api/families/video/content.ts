import { Readable, Transform, pipeline } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, fetch, type Dispatcher } from 'undici';
import type { Channel } from '../../../shared/channels/config.js';
import type { ChannelRegistry } from '../../../shared/channels/registry.js';
import { NotFoundError } from '../../../shared/errors.js';
import type { VideoTask } from '../../../shared/families/video/task.js';
import { BlockedTargetError, pinnedLookup, resolveTarget, type ResolvedTarget } from '../../../shared/ssrf.js';

/** Connections to upstreams for content; relayq's own idle watchdog below decides timeouts. */
const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, connectTimeout: 10_000 });

/** Headers of the upstream's answer that describe the bytes, relayed as they came. */
const RELAYED = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'content-disposition', 'etag', 'last-modified', 'cache-control'];

/** At most this much of an upstream's error body is read (for its message). */
const ERROR_BYTES = 16 * 1024;

/** Answers with which an upstream says it has no content route (relays that report a URL instead). */
const NO_CONTENT_ROUTE = new Set([404, 405, 501]);

/** Redirects followed from a video's URL, each target checked again. */
const MAX_REDIRECTS = 3;

type UpstreamResponse = Awaited<ReturnType<typeof fetch>>;

export interface ContentDeps {
  registry: ChannelRegistry;
  /** Idle timeout when the channel sets none (UPSTREAM_TIMEOUT_SECONDS), seconds. */
  timeoutSeconds: number;
  /** Aborted once the API's shutdown grace period is over: a download still running is cut then. */
  shutdown: AbortSignal;
  /** Whether a video URL on another host than the channel's may name a private address (ARCHIVE_ALLOW_PRIVATE). */
  allowPrivate: boolean;
}

/** A connection pool that reaches only the address checked for a host (a second DNS answer cannot differ). */
function pinnedTo(target: ResolvedTarget): Agent {
  const lookup = pinnedLookup(target);
  return new Agent({ headersTimeout: 0, bodyTimeout: 0, connectTimeout: 10_000, connect: { lookup } });
}

/**
 * GET of the URL an upstream reported for a finished video, redirects followed by hand. On the
 * channel's own origin it carries the channel's key; on any other host it carries no key and
 * reaches only public addresses (unless `allowPrivate`), each redirect target checked again.
 * @throws BlockedTargetError for a refused target or too many redirects; fetch errors as they come.
 */
async function openVideoUrl(start: URL, channel: Channel, base: Record<string, string>, allowPrivate: boolean, signal: AbortSignal): Promise<UpstreamResponse> {
  const own = new URL(channel.baseUrl).origin;
  let url = start;
  for (let hop = 0; ; hop++) {
    const headers = { ...base };
    let via: Dispatcher = dispatcher;
    if (url.origin === own) {
      if (channel.key) headers.authorization = `Bearer ${channel.key}`;
    } else {
      via = pinnedTo(await resolveTarget(url, allowPrivate, 'ARCHIVE_ALLOW_PRIVATE'));
    }
    const res = await fetch(url, { headers, signal, dispatcher: via, redirect: 'manual' });
    // A pool of its own closes once its one request (the body included) is done.
    if (via !== dispatcher) void via.close().catch(() => undefined);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return res;
    await res.body?.cancel().catch(() => undefined);
    if (hop >= MAX_REDIRECTS) throw new BlockedTargetError(`more than ${MAX_REDIRECTS} redirects`);
    url = new URL(location, url);
  }
}

/** A refusal in the OpenAI envelope; `retry` says whether the SDK should try again (`x-should-retry`). */
function refuse(reply: FastifyReply, status: number, message: string, code: string, retry: boolean) {
  return reply.status(status).header('x-should-retry', String(retry)).send({ error: { message, type: status === 404 ? 'not_found_error' : 'upstream_error', param: null, code } });
}

async function messageOf(res: UpstreamResponse): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res.body ?? []) {
      text += Buffer.from(chunk as Uint8Array).toString('utf8');
      if (text.length >= ERROR_BYTES) break;
    }
  } catch {
    // what arrived is enough
  }
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof m === 'string') return m;
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200) || 'no body';
}

/**
 * Streams a finished video's bytes (`variant`: video, thumbnail or spritesheet) from the channel
 * that made it (`GET {baseUrl}/videos/{upstream id}/content?variant=`, with the channel's key),
 * piece by piece: nothing is held whole in memory or in Redis. An upstream without that route
 * (404, 405, 501) that reported the video's URL (`video_url`, `result_url`, `metadata.url`) has
 * the video streamed from that URL instead (see openVideoUrl for the checks on it). Status, content type, length and
 * range headers are the upstream's; a `Range` request is forwarded. The upstream call ends when
 * the client goes away, and when the upstream sends nothing for the channel's idle timeout (the
 * client then sees the body cut short). An upstream 404 is answered 404 (the upstream no longer has
 * the content: it expired); a 5xx, a timeout or a refused connection is a retryable 502; any other
 * refusal a final 502 naming it.
 */
export async function streamContent(req: FastifyRequest, reply: FastifyReply, deps: ContentDeps, task: VideoTask, variant: string) {
  const upstream = task.upstream;
  const channel = upstream?.id ? deps.registry.get(upstream.channel) : undefined;
  if (!upstream?.id) throw new NotFoundError(`video ${task.id} has no content upstream`);
  if (!channel) return refuse(reply, 502, `channel ${upstream.channel}, which holds this video, is no longer configured`, 'channel_removed', false);
  const timeoutMs = (channel.timeoutSeconds ?? deps.timeoutSeconds) * 1000;
  const ac = new AbortController();
  const idle = setTimeout(() => ac.abort(new Error(`no data for ${timeoutMs} ms`)), timeoutMs);
  // The client left: the upstream download has no reader any more. Past the shutdown grace
  // period it is cut too (the client sees a short body and may resume it with a Range request).
  const stop = () => ac.abort(new Error('this relayq node is shutting down'));
  deps.shutdown.addEventListener('abort', stop, { once: true });
  reply.raw.once('close', () => {
    deps.shutdown.removeEventListener('abort', stop);
    ac.abort(new Error('client went away'));
  });
  const headers: Record<string, string> = { accept: String(req.headers.accept ?? '*/*') };
  if (channel.key) headers.authorization = `Bearer ${channel.key}`;
  if (typeof req.headers.range === 'string') headers.range = req.headers.range;
  const url = `${channel.baseUrl}/videos/${encodeURIComponent(upstream.id)}/content?variant=${encodeURIComponent(variant)}`;
  const reportedUrl = variant === 'video' ? task.reported?.video_url : null;
  let res: UpstreamResponse;
  let fromUrl = false;
  try {
    res = await fetch(url, { headers, signal: ac.signal, dispatcher });
    if (!res.ok && NO_CONTENT_ROUTE.has(res.status) && reportedUrl && /^https?:\/\//i.test(reportedUrl)) {
      await res.body?.cancel().catch(() => undefined);
      idle.refresh();
      const { authorization: _key, ...base } = headers;
      res = await openVideoUrl(new URL(reportedUrl), channel, base, deps.allowPrivate, ac.signal);
      fromUrl = true;
    }
  } catch (err) {
    clearTimeout(idle);
    if (err instanceof BlockedTargetError) return refuse(reply, 502, `the video's URL reported by the upstream is refused: ${err.message}`, 'video_url_refused', false);
    req.log.warn({ err, channel: channel.name }, 'video content unavailable');
    return refuse(reply, 502, `the upstream did not answer for the video content (${ac.signal.aborted ? 'timed out' : 'connection failed'}); retry`, 'upstream_unavailable', true);
  }
  idle.refresh();
  if (!res.ok) {
    clearTimeout(idle);
    const message = await messageOf(res);
    const what = fromUrl ? `the video's URL reported by the upstream answered ${res.status}` : `the upstream answered ${res.status} for the video content`;
    if (res.status === 404 || res.status === 410) return refuse(reply, 404, fromUrl ? `${what}: ${message}` : `the upstream no longer has this video's ${variant} (it may have expired): ${message}`, 'content_not_found', false);
    const retry = res.status >= 500 || res.status === 429;
    return refuse(reply, 502, `${what}: ${message}`, 'upstream_error', retry);
  }
  for (const name of RELAYED) {
    const v = res.headers.get(name);
    if (v !== null) void reply.header(name, v);
  }
  const watched = new Transform({
    transform(chunk: Buffer, _enc, done) {
      idle.refresh();
      done(null, chunk);
    },
  });
  const body = res.body ? Readable.fromWeb(res.body as ReadableStream<Uint8Array>) : Readable.from([]);
  // A failure half-way destroys the answer: the client sees it cut short, never a clean end.
  pipeline(body, watched, (err) => {
    clearTimeout(idle);
    if (err && !reply.raw.destroyed) req.log.warn({ err: err.message, channel: channel.name }, 'video content stream broke off');
  });
  return reply.status(res.status).send(watched);
}
