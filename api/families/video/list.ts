import { ValidationError } from '../../../shared/errors.js';
import { videoFamily } from '../../../shared/families/video/family.js';
import type { VideoTask } from '../../../shared/families/video/task.js';
import type { Task } from '../../../shared/tasks/model.js';
import type { TaskStore } from '../../../shared/tasks/store.js';

/** Tasks read per round; `asc` reads at most ASC_SCAN of a tenant's newest videos. */
const PAGE = 100;
const ASC_SCAN = 2000;

const QUEUES = videoFamily.queues.map((q) => q.name);

const isVideo = (t: Task): t is VideoTask => t.family === 'video' && !t.deleted_at;

export interface VideoPage {
  data: VideoTask[];
  has_more: boolean;
}

/**
 * A tenant's videos as `GET /v1/videos` pages them (a cursor page: `after` is the last id of the
 * previous page). `desc` (the default) is newest first; `asc` oldest first, over the tenant's
 * newest ASC_SCAN videos (tasks live for TASK_RETENTION_SECONDS, so that is the usual whole).
 * Deleted videos are left out.
 * @throws ValidationError naming `after` when it is not a video of this tenant.
 */
export async function listVideos(store: TaskStore, tenant: string, q: { after?: string | undefined; limit: number; order: 'asc' | 'desc' }): Promise<VideoPage> {
  let cursor: Task | null = null;
  if (q.after) {
    cursor = await store.get(q.after);
    if (!cursor || cursor.tenant !== tenant || cursor.family !== 'video') throw new ValidationError('after', 'is not the id of one of your videos');
  }
  if (q.order === 'desc') {
    const found: VideoTask[] = [];
    let more = true;
    let before: Task | null = cursor;
    for (let round = 0; round < 20 && more && found.length <= q.limit; round++) {
      const page = await store.listByTenant(tenant, QUEUES, PAGE, before ?? undefined);
      more = page.more;
      found.push(...page.tasks.filter(isVideo));
      before = page.tasks.at(-1) ?? null;
      if (!before) break;
    }
    return { data: found.slice(0, q.limit), has_more: found.length > q.limit || more };
  }
  // Oldest first: read newest first down to the cursor (or the end), then turn the list around.
  const newer: VideoTask[] = [];
  const cursorId = cursor?.id;
  const cursorAt = cursor?.created_at ?? -Infinity;
  let before: Task | undefined;
  for (let scanned = 0; scanned < ASC_SCAN; scanned += PAGE) {
    const page = await store.listByTenant(tenant, QUEUES, PAGE, before);
    const at = cursorId ? page.tasks.findIndex((t) => t.id === cursorId) : -1;
    const tasks = at >= 0 ? page.tasks.slice(0, at) : page.tasks;
    newer.push(...tasks.filter(isVideo));
    before = page.tasks.at(-1);
    if (at >= 0 || !page.more || !before || before.created_at < cursorAt) break;
  }
  const ascending = newer.reverse();
  return { data: ascending.slice(0, q.limit), has_more: ascending.length > q.limit };
}
