import type { FastifyReply } from 'fastify';
import { anthropicError, anthropicErrorType } from '../../../shared/families/anthropic/errors.js';
import type { Task } from '../../../shared/tasks/model.js';
import type { TaskStore } from '../../../shared/tasks/store.js';
import { failureStatus, retryHeaders, sendBlob, taskHeader, type Unfinished } from '../../replay.js';

/**
 * Marks an answer as concerning a task: `x-relayq-task-id`, and `request-id` (the header the
 * Anthropic SDKs read as `_request_id`), both the task id.
 */
export const markTask = (reply: FastifyReply, taskId: string) => taskHeader(reply, taskId).header('request-id', taskId);

/** The Anthropic envelope for a finished task that holds no upstream answer to replay. */
export function taskErrorBody(task: Pick<Task, 'id' | 'status' | 'error'>, status = failureStatus(task)) {
  const e = task.error;
  const message = e?.message ?? `the task ${task.status === 'succeeded' ? 'output expired' : 'failed'}`;
  return anthropicError(anthropicErrorType(e?.type, status), message, task.id);
}

/**
 * Answers a Messages call with exactly what the upstream answered (status, content type, bytes),
 * refusals included; a failure without an upstream answer (retries spent on an overloaded
 * upstream, a timeout, a cancel) gets Anthropic's error envelope with the status it stands for
 * (529 overloaded, 504 timeout, 409 canceled…). A failure is final: relayq already retried what
 * was worth retrying, so SDKs are told not to (`x-should-retry: false`). The task must be finished.
 */
export async function replyWithMessage(reply: FastifyReply, store: TaskStore, task: Task) {
  markTask(reply, task.id);
  if (task.status !== 'succeeded') retryHeaders(reply, false);
  if (task.response && (task.status === 'succeeded' || task.status === 'failed')) {
    const blob = await store.openBlob(task.id, 'response');
    if (blob) return sendBlob(reply.status(task.response.status), blob, task.response.content_type);
  }
  const status = failureStatus(task);
  return reply.status(status).send(taskErrorBody(task, status));
}

/**
 * The answer to a plain call whose task is still running when relayq stops waiting: an error
 * naming the task, never the task object in place of the Message, with `Location` to poll it.
 * Retryable (`x-should-retry: true`): the SDK's retry of the same call joins the task instead of
 * calling the upstream again. 504 `timeout_error` when SYNC_WAIT_SECONDS passed, 503 `api_error`
 * when this API node is shutting down.
 */
export function replyUnfinishedMessage(reply: FastifyReply, task: Pick<Task, 'id'>, why: Unfinished) {
  markTask(reply, task.id);
  retryHeaders(reply, true, why.reason === 'shutdown' ? 1000 : 0);
  const where = `task ${task.id} continues: poll GET /v1/tasks/${task.id}, or retry the same call (the SDK's retry joins the task)`;
  const body =
    why.reason === 'timeout'
      ? anthropicError('timeout_error', `no answer within ${Math.round(why.waitedMs / 1000)} s (SYNC_WAIT_SECONDS); ${where}`, task.id)
      : anthropicError('api_error', `this relayq node is shutting down; ${where}`, task.id);
  return reply
    .status(why.reason === 'timeout' ? 504 : 503)
    .header('location', `/v1/tasks/${task.id}`)
    .send(body);
}
