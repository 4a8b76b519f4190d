import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Task } from '../shared/tasks/model.js';
import type { BlobReader, TaskStore } from '../shared/tasks/store.js';
import { toTaskObject } from '../shared/tasks/view.js';

export const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/**
 * Sends a stored blob piece by piece (it may be large, and live in an object store), with its
 * length when the store knows it; `type` overrides the blob's own content type.
 */
export function sendBlob(reply: FastifyReply, blob: BlobReader, type = blob.type) {
  if (blob.size !== undefined) void reply.header('content-length', blob.size);
  return reply.type(type).send(blob.body);
}

/** Marks an answer as concerning a task: `x-relayq-task-id` (every such answer carries it). */
export const taskHeader = (reply: FastifyReply, taskId: string) => reply.header('x-relayq-task-id', taskId);

/**
 * Whether the official OpenAI SDKs should retry (`x-should-retry`, which they obey over their own
 * status rules), and after how long (`retry-after-ms`, milliseconds).
 */
export function retryHeaders(reply: FastifyReply, retry: boolean, afterMs?: number) {
  void reply.header('x-should-retry', String(retry));
  // Both say the same: Retry-After in whole seconds, retry-after-ms exactly.
  if (retry && afterMs !== undefined) void reply.header('retry-after-ms', String(afterMs)).header('retry-after', String(Math.ceil(afterMs / 1000)));
}

const isErrorStatus = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 400 && n <= 599;

/**
 * HTTP status for a task that failed without an upstream answer to replay: the status its error
 * stands for; for tasks stored before errors carried one, a numeric `code` (which then held it).
 */
export function failureStatus(task: Pick<Task, 'status' | 'error'>): number {
  const e = task.error;
  if (task.status === 'canceled') return 409;
  if (isErrorStatus(e?.status)) return e.status;
  if (e?.type === 'timeout') return 504;
  const code = Number(e?.code);
  if (isErrorStatus(code)) return code;
  return !e || e.type === 'internal_error' || e.type === 'invalid_request' ? 500 : 502;
}

/** 202 with the task and where to poll it (200 when an Idempotency-Key named an earlier task). */
export function replyAccepted(req: FastifyRequest, reply: FastifyReply, task: Task, queuePosition: number | null = null, status = 202) {
  taskHeader(reply, task.id);
  return reply.status(status).header('location', `/v1/tasks/${task.id}`).send(toTaskObject(task, baseUrl(req), queuePosition));
}

/**
 * Answers a call with exactly what the upstream answered (status, content type, bytes),
 * errors included; a failure without an upstream answer gets the OpenAI error envelope, with the
 * upstream's own `type`, `code` and `param` where it named them (see TaskError). A
 * failure is final: relayq already retried what was worth retrying, so SDKs are told not to
 * (`x-should-retry: false`). The task must be finished.
 */
export async function replyWithTask(reply: FastifyReply, store: TaskStore, task: Task) {
  taskHeader(reply, task.id);
  if (task.status !== 'succeeded') retryHeaders(reply, false);
  if (task.response && (task.status === 'succeeded' || task.status === 'failed')) {
    // Streamed: an audio or image answer may be large, and may live in an object store.
    const blob = await store.openBlob(task.id, 'response');
    if (blob) return sendBlob(reply.status(task.response.status), blob, task.response.content_type);
  }
  const e = task.error;
  return reply.status(failureStatus(task)).send({
    error: { message: e?.message ?? `the task ${task.status === 'succeeded' ? 'output expired' : 'failed'}`, type: e?.type ?? 'internal_error', param: e?.param ?? null, code: e?.code ?? null },
  });
}

/** Why a call ends before its task did. */
export type Unfinished = { reason: 'timeout'; waitedMs: number } | { reason: 'shutdown' };

/**
 * The answer to a plain (sync) call whose task is still running when relayq stops waiting: an
 * OpenAI error envelope naming the task (never the task object in place of the answer), with
 * `Location` to poll it. It is retryable: the SDK's retry of the same call joins the task
 * instead of calling the upstream again. 504 when SYNC_WAIT_SECONDS passed, 503 when this API
 * node is shutting down.
 */
export function replyUnfinished(reply: FastifyReply, task: Pick<Task, 'id'>, why: Unfinished) {
  taskHeader(reply, task.id);
  retryHeaders(reply, true, why.reason === 'shutdown' ? 1000 : 0);
  const where = `task ${task.id} continues: poll GET /v1/tasks/${task.id}, or retry the same call (the SDK's retry joins the task)`;
  const error =
    why.reason === 'timeout'
      ? { message: `no answer within ${Math.round(why.waitedMs / 1000)} s (SYNC_WAIT_SECONDS); ${where}`, type: 'timeout_error', param: null, code: 'sync_wait_exceeded' }
      : { message: `this relayq node is shutting down; ${where}`, type: 'service_unavailable', param: null, code: 'shutting_down' };
  return reply
    .status(why.reason === 'timeout' ? 504 : 503)
    .header('location', `/v1/tasks/${task.id}`)
    .send({ error });
}
