import http from 'node:http';
import { eachLimited } from '../shared/limited.js';
import https from 'node:https';
import { BlobTooLargeError } from '../shared/blobs.js';
import type { Config } from '../shared/config.js';
import { familyNamed } from '../shared/families/catalog.js';
import { archiveBlobName, archiveUrl } from '../shared/files.js';
import { randomToken } from '../shared/ids.js';
import { globalKeys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { pinnedLookup, resolveTarget } from '../shared/ssrf.js';
import { isTerminal, type ArchivedOutput, type Task, type TaskPatch } from '../shared/tasks/model.js';
import type { TaskChange, TaskStore } from '../shared/tasks/store.js';

/** Redirects followed per download (each hop checked like the first). */
const MAX_REDIRECTS = 3;
/** Downloads of one task made at once. */
const PARALLEL = 4;

/**
 * Copies a finished task's media from the upstream's URLs into the blob store (ARCHIVE_OUTPUTS),
 * so relayq serves them (`/v1/files/...`) for as long as it keeps the task, whatever the
 * upstream does with its own copies.
 */
export interface Archiver {
  /**
   * Downloads each URL (at most ARCHIVE_MAX_BYTES, within ARCHIVE_TIMEOUT_SECONDS, never from
   * private addresses unless ARCHIVE_ALLOW_PRIVATE) into the task's blobs. One record per
   * distinct URL: its relayq URL, or why it was not copied. Never throws for a failed download.
   */
  copy(taskId: string, urls: string[], log: Logger): Promise<ArchivedOutput[]>;
  /**
   * The change that finishes a task, with its media archived: the family says which of the
   * task's URLs are outputs and how its own fields take relayq's URLs (the core names no
   * family); the records go to the task's `archived`. Other changes pass unchanged. Null when
   * another process is archiving this task right now (a tracker tick of another worker): write
   * nothing and look again later, when that one has finished the task or its claim has lapsed.
   */
  finishing(taskId: string, change: TaskChange, log: Logger): Promise<TaskChange | null>;
}

interface Download {
  type: string;
  body: http.IncomingMessage;
}

/** Opens a GET to a checked address, following redirects by hand (each target checked again). */
async function open(url: URL, allowPrivate: boolean, signal: AbortSignal, hops = 0): Promise<Download> {
  const target = await resolveTarget(url, allowPrivate, 'ARCHIVE_ALLOW_PRIVATE');
  const pinned = pinnedLookup(target);
  const mod = url.protocol === 'https:' ? https : http;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = mod.get(url, { lookup: pinned, signal, headers: { 'user-agent': 'relayq-archive/1', accept: '*/*' } }, resolve);
    req.on('error', reject);
  });
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    return open(new URL(res.headers.location, url), allowPrivate, signal, hops + 1);
  }
  if (status !== 200) {
    res.resume();
    throw new Error(`the upstream answered HTTP ${status}`);
  }
  return { type: String(res.headers['content-type'] ?? 'application/octet-stream'), body: res };
}

export function createArchiver(deps: {
  store: TaskStore;
  /** For the claim that keeps two workers from archiving one task at once. */
  redis: RedisClient;
  prefix: string;
  config: Pick<Config, 'ARCHIVE_MAX_BYTES' | 'ARCHIVE_TIMEOUT_SECONDS' | 'ARCHIVE_ALLOW_PRIVATE'>;
  /** The API's address as clients reach it (PUBLIC_URL). */
  publicUrl: string;
}): Archiver {
  const { store, config } = deps;

  async function copyOne(taskId: string, source: string, log: Logger): Promise<ArchivedOutput> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${config.ARCHIVE_TIMEOUT_SECONDS} s`)), config.ARCHIVE_TIMEOUT_SECONDS * 1000);
    try {
      const url = new URL(source);
      const { type, body } = await open(url, config.ARCHIVE_ALLOW_PRIVATE, ac.signal);
      const declared = Number(body.headers['content-length'] ?? NaN);
      if (declared > config.ARCHIVE_MAX_BYTES) {
        body.destroy();
        throw new BlobTooLargeError(config.ARCHIVE_MAX_BYTES);
      }
      const token = randomToken(24);
      const bytes = await store.putBlobStream(taskId, archiveBlobName(token), type, body, config.ARCHIVE_MAX_BYTES);
      if (bytes === null) return { source_url: source, url: null, error: 'the task expired before its output was archived' };
      return { source_url: source, url: archiveUrl(deps.publicUrl, taskId, token, url.pathname), content_type: type, bytes };
    } catch (err) {
      const message = ac.signal.aborted ? String((ac.signal.reason as Error).message) : (err as Error).message;
      // The host and path only: a signed URL's query string is a credential.
      log.warn({ taskId, source: source.split('?')[0], error: message }, 'output not archived; the task keeps the upstream URL');
      return { source_url: source, url: null, error: message };
    } finally {
      clearTimeout(timer);
    }
  }

  async function copy(taskId: string, urls: string[], log: Logger): Promise<ArchivedOutput[]> {
    const distinct = [...new Set(urls.filter((u) => /^https?:\/\//i.test(u)))];
    const out = new Map<string, ArchivedOutput>();
    await eachLimited(distinct, PARALLEL, async (u) => void out.set(u, await copyOne(taskId, u, log)));
    return distinct.map((u) => out.get(u)!);
  }

  return {
    copy,
    async finishing(taskId, change, log) {
      if (change.status !== 'succeeded') return change;
      const task = await store.get(taskId);
      const family = task ? familyNamed(task.family) : undefined;
      if (!task || !family?.archive || isTerminal(task.status)) return change;
      // The task as this change will leave it: the family reads its outputs from there.
      const done = { ...task, ...change.patch, status: 'succeeded' } as Task;
      const urls = family.archive.urls(done);
      if (urls.length === 0) return change;
      // Held for as long as the downloads may take (PARALLEL at a time), then left to lapse.
      const holdMs = Math.ceil(urls.length / PARALLEL) * config.ARCHIVE_TIMEOUT_SECONDS * 1000 + 10_000;
      if ((await deps.redis.set(globalKeys(deps.prefix).archiveClaim(taskId), '1', 'PX', holdMs, 'NX')) !== 'OK') return null;
      const archived = await copy(taskId, urls, log);
      if (archived.length === 0) return change;
      const byUrl = new Map(archived.flatMap((a) => (a.url ? [[a.source_url, a.url] as const] : [])));
      const replaced = family.archive.replace(done, (u) => byUrl.get(u) ?? null) as TaskPatch;
      return { ...change, patch: { ...change.patch, ...replaced, archived } as TaskPatch };
    },
  };
}
