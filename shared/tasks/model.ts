/** The task: one record per submitted job (SPEC §4). Field names are a wire format. */

export const TASK_STATUSES = ['queued', 'running', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'canceled']);
export const isTerminal = (s: TaskStatus) => TERMINAL.has(s);

export const MJ_KINDS = [
  'mj.imagine',
  'mj.blend',
  'mj.describe',
  'mj.shorten',
  'mj.action',
  'mj.modal',
  'mj.swap_face',
] as const;
export type MjKind = (typeof MJ_KINDS)[number];

export const TASK_KINDS = [
  ...MJ_KINDS,
  'image.generate',
  'image.edit',
  'audio.speech',
  'audio.transcription',
  'audio.translation',
  'text.completion',
  'chat.completion',
  'embedding',
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

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

export const MJ_ACTIONS = [
  'IMAGINE',
  'UPSCALE',
  'VARIATION',
  'REROLL',
  'ZOOM',
  'PAN',
  'DESCRIBE',
  'BLEND',
  'SHORTEN',
  'SWAP_FACE',
  'ACTION',
] as const;
export type MjAction = (typeof MJ_ACTIONS)[number];

export interface MjButton {
  customId: string;
  emoji: string;
  label: string;
  type: number;
  style: number;
}

/** What an MJ task was asked for; written once at creation. */
export interface MjRequest {
  action: MjAction;
  prompt: string;
  description: string;
  state: string | null;
  botType: 'MID_JOURNEY' | 'NIJI_JOURNEY' | 'INSIGHT_FACE';
  mode: 'FAST' | 'RELAX' | 'TURBO' | null;
  notifyHook: string | null;
  /** For actions: the relayq parent task and the button clicked. */
  parentId: string | null;
  customId: string | null;
  dimensions: 'PORTRAIT' | 'SQUARE' | 'LANDSCAPE' | null;
  link: string | null;
}

/** Where the task lives upstream. Clients never see these ids. */
export interface UpstreamRef {
  channel: string;
  id: string | null;
  /** The upstream's MODAL task id between its action answer (code 21) and our modal call. */
  modalId: string | null;
  status: string | null;
}

/** What an OpenAI-style task asked for; the request body itself is the `request` blob. */
export interface OpenAiRequest {
  endpoint: string;
  model: string | null;
  stream: boolean;
  multipart: boolean;
}

/** The upstream's answer, replayed byte for byte; its body is the `response` blob. */
export interface UpstreamResponse {
  status: number;
  content_type: string;
}

export const WEBHOOK_EVENT_TYPES = ['task.started', 'task.progress', 'task.succeeded', 'task.failed', 'task.canceled'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Where a task's changes are delivered: an MJ `notifyHook` (MJ task object) or `X-Webhook-Url`. */
export interface WebhookTarget {
  url: string;
  format: 'mj' | 'generic';
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

export interface Task {
  id: string;
  kind: TaskKind;
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
  mj: MjRequest | null;
  upstream: UpstreamRef | null;
  /** MJ progress as the upstream reports it: preview or final image, buttons, properties. */
  image_url: string | null;
  buttons: MjButton[];
  properties: Record<string, unknown>;
  /** MJ modal step input (prompt); the mask is a blob. */
  modal: { prompt: string | null; mask: boolean } | null;
  seed: string | null;
  openai: OpenAiRequest | null;
  response: UpstreamResponse | null;
  webhook: WebhookTarget | null;
  /** Every upstream call made for the task, in order (admins see it in the task view). */
  channel_attempts: ChannelAttempt[];
}

export type TaskPatch = Partial<Omit<Task, 'id' | 'kind' | 'tenant' | 'status' | 'created_at'>>;

export function errorOf(type: RelayErrorType, code: string, message: string): TaskError {
  return { type, code, message };
}
