/** The task: one record per submitted job (docs/tasks.md). Field names are a wire format. */

export const TASK_STATUSES = ['queued', 'running', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'canceled']);
export const isTerminal = (s: TaskStatus) => TERMINAL.has(s);

/** The kinds of failure relayq names itself. */
export type RelayErrorType = 'upstream_error' | 'timeout' | 'canceled' | 'invalid_request' | 'internal_error';

/**
 * Why a task failed. When the upstream described its error (OpenAI envelope
 * `{"error":{"message","type","code","param"}}`), `type`, `code` and `param` are the upstream's own
 * (`invalid_request_error` / `context_length_exceeded` / `messages`), so clients branch on them
 * as they would on a direct call; otherwise `type` is one of relayq's own and `code` names the
 * case (or, for upstream failures, the HTTP status as text). `status` is the HTTP status the
 * failure stands for (what a sync call is answered with); tasks stored before it existed carry
 * the status in `code` alone.
 */
export interface TaskError {
  type: RelayErrorType | (string & {});
  code: string | null;
  message: string;
  status?: number;
  param?: string | null;
}

/** Where the task lives upstream: the channel that holds it and the upstream's own id (clients never see it). */
export interface UpstreamRef {
  channel: string;
  id: string | null;
  /** The upstream's own status of the task, as it last said it. */
  status: string | null;
}

/** The upstream's answer, replayed byte for byte; its body is the `response` blob. */
export interface UpstreamResponse {
  status: number;
  content_type: string;
}

/**
 * One media output of a finished task copied into the blob store (ARCHIVE_OUTPUTS): the upstream's
 * URL it came from, and relayq's own URL that serves it (null, with `error`, when it could not be
 * copied and the task keeps the upstream's URL).
 */
export interface ArchivedOutput {
  source_url: string;
  url: string | null;
  content_type?: string;
  bytes?: number;
  error?: string;
}

export const WEBHOOK_EVENT_TYPES = ['task.started', 'task.progress', 'task.succeeded', 'task.failed', 'task.canceled'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Where a task's changes are delivered. `format` is `generic` (`{type, timestamp, data}` with the
 * task object, for `X-Webhook-Url`) or a family's name, whose own callback body is sent (an MJ
 * `notifyHook` gets the MJ task object).
 */
export interface WebhookTarget {
  url: string;
  format: 'generic' | (string & {});
  /** Only these event types (`X-Webhook-Events`); null for all. */
  events: WebhookEventType[] | null;
}

/**
 * One upstream call made for a task: which channel took it and how it ended. `moved` means the
 * call failed in a way worth trying elsewhere and the next attempt went to another channel.
 */
export interface ChannelAttempt {
  channel: string;
  /** When the call started (epoch ms). */
  at: number;
  outcome: 'succeeded' | 'failed' | 'moved';
  /** The upstream's HTTP status, when it answered. */
  status: number | null;
  error: string | null;
}

/**
 * What every task has, whatever its family. A family's task extends it with the fields of its
 * protocol (shared/families/<family>/task.ts); `Task` is the union of them, told apart by `family`
 * (derived from `kind` when a task is read, never stored).
 */
export interface TaskBase<Kind extends string = string> {
  id: string;
  kind: Kind;
  /** The family the kind belongs to. */
  family: string;
  tenant: string;
  status: TaskStatus;
  /** 0–100 */
  progress: number;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  attempts: number;
  output: unknown;
  error: TaskError | null;
  metadata: Record<string, unknown>;
  upstream: UpstreamRef | null;
  /** An upstream answer kept to replay byte for byte; its body is the `response` blob. */
  response: UpstreamResponse | null;
  webhook: WebhookTarget | null;
  /** Every upstream call made for the task, in order (admins see it in the task view). */
  channel_attempts: ChannelAttempt[];
  /** Its media outputs as archived when it finished (ARCHIVE_OUTPUTS); absent when none were. */
  archived?: ArchivedOutput[];
}

import type { Task } from '../families/catalog.js';
export type { Task, TaskKind } from '../families/catalog.js';

/** The fields a change may write: any field of the task's own family but its identity and status. */
export type TaskPatch<T extends TaskBase = Task> = T extends unknown ? Partial<Omit<T, 'id' | 'kind' | 'family' | 'tenant' | 'status' | 'created_at'>> : never;

export function errorOf(type: RelayErrorType, code: string, message: string): TaskError {
  return { type, code, message };
}
