import { familyNamed } from '../families/catalog.js';
import type { ArchivedOutput, ChannelAttempt, Task } from './model.js';

/** The generic task object of `/v1/tasks` (docs/tasks.md, "The task object"). */
export interface TaskObject {
  id: string;
  object: 'task';
  kind: Task['kind'];
  status: Task['status'];
  progress: number;
  queue_position: number | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  attempts: number;
  output: unknown;
  error: Task['error'];
  metadata: Record<string, unknown>;
  urls: { get: string; cancel: string; events: string; content: string };
  /** Media outputs copied into relayq (ARCHIVE_OUTPUTS), each with the upstream URL it came from. */
  archived?: ArchivedOutput[];
  /** Admins only: the channel that holds or served the task, and every upstream call made for it. */
  channel?: string | null;
  channel_attempts?: ChannelAttempt[];
}

/** The generic view; `admin` adds the channel and the attempt history (never shown to tenants). */
export function toTaskObject(task: Task, baseUrl: string, queuePosition: number | null = null, opts: { admin?: boolean } = {}): TaskObject {
  const self = `${baseUrl}/v1/tasks/${task.id}`;
  const attempts = task.channel_attempts ?? [];
  const admin = opts.admin ? { channel: task.upstream?.channel ?? attempts.at(-1)?.channel ?? null, channel_attempts: attempts } : {};
  return {
    id: task.id,
    object: 'task',
    kind: task.kind,
    status: task.status,
    progress: task.progress,
    queue_position: task.status === 'queued' ? queuePosition : null,
    created_at: task.created_at,
    started_at: task.started_at,
    completed_at: task.completed_at,
    attempts: task.attempts,
    output: familyNamed(task.family)?.output(task) ?? task.output ?? null,
    error: task.error,
    metadata: task.metadata,
    urls: { get: self, cancel: `${self}/cancel`, events: `${self}/events`, content: `${self}/content` },
    ...(task.archived?.length ? { archived: task.archived } : {}),
    ...admin,
  };
}
