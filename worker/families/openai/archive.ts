import type { Logger } from '../../../shared/logger.js';
import type { ArchivedOutput } from '../../../shared/tasks/model.js';
import type { Archiver } from '../../archive.js';
import type { UpstreamAnswer } from './client.js';

const isJson = (contentType: string) => /^application\/(.+\+)?json\b/i.test(contentType);

/**
 * An images answer (`{"data":[{"url"},…]}`) with its image URLs copied into relayq
 * (ARCHIVE_OUTPUTS) and replaced by relayq's URLs; the records say where each came from. Other
 * answers (b64_json images, refusals, bodies that are not JSON) come back as they were.
 */
export async function archiveImages(archiver: Archiver, taskId: string, answer: UpstreamAnswer, log: Logger): Promise<{ answer: UpstreamAnswer; archived: ArchivedOutput[] }> {
  const unchanged = { answer, archived: [] };
  if (answer.status < 200 || answer.status > 299 || !isJson(answer.contentType)) return unchanged;
  let parsed: { data?: unknown };
  try {
    parsed = JSON.parse(answer.body.toString('utf8')) as { data?: unknown };
  } catch {
    return unchanged;
  }
  const items = Array.isArray(parsed.data) ? (parsed.data as Record<string, unknown>[]) : [];
  const urls = items.flatMap((d) => (typeof d?.url === 'string' ? [d.url] : []));
  if (urls.length === 0) return unchanged;
  const archived = await archiver.copy(taskId, urls, log);
  const byUrl = new Map(archived.flatMap((a) => (a.url ? [[a.source_url, a.url] as const] : [])));
  const data = items.map((d) => (typeof d?.url === 'string' && byUrl.has(d.url) ? { ...d, url: byUrl.get(d.url) } : d));
  return { answer: { ...answer, body: Buffer.from(JSON.stringify({ ...parsed, data })) }, archived };
}
