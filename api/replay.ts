import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Task } from '../shared/tasks/model.js';
import type { TaskStore } from '../shared/tasks/store.js';
import { toTaskObject } from '../shared/tasks/view.js';

export const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/** HTTP status for a task that failed without an upstream answer to replay. */
function failureStatus(task: Task): number {
  const code = Number(task.error?.code);
  if (task.status === 'canceled') return 409;
  if (task.error?.type === 'timeout') return 504;
  if (Number.isInteger(code) && code >= 400 && code <= 599) return code;
  return task.error?.type === 'upstream_error' ? 502 : 500;
}

/** 202 with the task and where to poll it (200 when an Idempotency-Key named an earlier task). */
export function replyAccepted(req: FastifyRequest, reply: FastifyReply, task: Task, queuePosition: number | null = null, status = 202) {
  return reply.status(status).header('location', `/v1/tasks/${task.id}`).send(toTaskObject(task, baseUrl(req), queuePosition));
}

/**
 * Answers a sync call with exactly what the upstream answered (status, content type, bytes),
 * errors included; a failure without an upstream answer gets the OpenAI error envelope; an
 * unfinished task gets 202.
 */
export async function replyWithTask(req: FastifyRequest, reply: FastifyReply, store: TaskStore, task: Task) {
  void reply.header('x-relayq-task-id', task.id);
  if (task.response && (task.status === 'succeeded' || task.status === 'failed')) {
    const blob = (await store.blobs(task.id)).response;
    if (blob) return reply.status(task.response.status).type(task.response.content_type).send(blob.data);
  }
  if (task.status === 'failed' || task.status === 'canceled') {
    const e = task.error;
    return reply.status(failureStatus(task)).send({
      error: { message: e?.message ?? 'the task failed', type: e?.type ?? 'internal_error', param: null, code: e?.code ?? null },
    });
  }
  return replyAccepted(req, reply, task);
}
