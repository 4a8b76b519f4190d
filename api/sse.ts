import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseTaskId } from '../shared/ids.js';
import { keyspace } from '../shared/keys.js';
import type { RedisClient } from '../shared/redis.js';
import { isTerminal, type Task, type TaskStatus } from '../shared/tasks/model.js';
import type { TaskStore } from '../shared/tasks/store.js';
import { toTaskObject } from '../shared/tasks/view.js';
import { follow, type FollowDeps } from './follow.js';
import { baseUrl, replyAccepted, replyWithTask } from './replay.js';

export interface SseDeps extends FollowDeps {
  redis: RedisClient;
  store: TaskStore;
}

const HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' };

/** An AbortSignal that fires when the client goes away. */
function closedSignal(req: FastifyRequest): AbortSignal {
  const ac = new AbortController();
  req.raw.socket.once('close', () => ac.abort());
  return ac.signal;
}

/**
 * Relays a streaming completion: the worker appends each upstream chunk to the task's token
 * stream; this writes them as OpenAI server-sent events, then `[DONE]`. Until the first chunk
 * the answer is still open: an upstream refusal is replayed as a normal HTTP error, and no chunk
 * within `waitMs` gives 202 with the task.
 */
export async function streamTokens(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task, waitMs: number) {
  const key = keyspace(deps.prefix, parseTaskId(task.id)!).tokens(task.id);
  const closed = closedSignal(req);
  let last = '-';
  let started = false;
  const write = (data: string) => reply.raw.write(`data: ${data}\n\n`);

  const deadline = Date.now() + waitMs;
  const outcome = await follow(
    deps,
    task.id,
    24 * 3600_000,
    async (): Promise<'done' | 'waited' | Task | undefined> => {
      // Status first (only the status: this runs per chunk): once the task is finished, every
      // chunk is already in the stream.
      const status = await deps.store.status(task.id);
      const finished = async () => (await deps.store.get(task.id)) ?? task;
      const entries = await deps.redis.xrange(key, last === '-' ? '-' : `(${last}`, '+', 'COUNT', 500);
      for (const [id, kv] of entries) {
        last = id;
        if (kv[0] === 'end') {
          if (started) write('[DONE]');
          return started ? 'done' : finished();
        }
        if (!started) {
          reply.hijack();
          reply.raw.writeHead(200, { ...HEADERS, 'x-relayq-task-id': task.id });
          started = true;
        }
        write(kv[1] ?? '');
      }
      if (entries.length === 500) return undefined; // more to read right away
      if (status && isTerminal(status)) {
        if (status === 'succeeded' && started) {
          write('[DONE]');
          return 'done';
        }
        return finished();
      }
      // Only the wait for the first chunk is bounded; a started stream runs to its end.
      if (!started && Date.now() >= deadline) return 'waited';
      return undefined;
    },
    { closed, pollMs: 500 },
  );

  if (outcome === 'done') return reply.raw.end();
  if (outcome && outcome !== 'waited' && started) {
    // Ended mid-stream (canceled, upstream broke): the SDK raises an error from this event.
    write(JSON.stringify({ error: { message: outcome.error?.message ?? `task ${outcome.status}`, type: outcome.error?.type ?? 'stream_error', param: null, code: outcome.error?.code ?? null } }));
    return reply.raw.end();
  }
  if (started) return reply.raw.end();
  const now = (await deps.store.get(task.id)) ?? task;
  return isTerminal(now.status) ? replyWithTask(req, reply, deps.store, now) : replyAccepted(req, reply, now);
}

/**
 * `GET /v1/tasks/{id}/events`: one SSE message per change — `status`, `progress`, `output` — and
 * `done` with the whole task at the end. Each carries the change's stream id, so a client that
 * reconnects with `Last-Event-ID` gets exactly what it missed.
 */
export async function streamEvents(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task) {
  const closed = closedSignal(req);
  const header = req.headers['last-event-id'];
  let last = typeof header === 'string' && /^\d+-\d+$/.test(header) ? header : '0';
  let status: TaskStatus | null = null;
  reply.hijack();
  reply.raw.writeHead(200, HEADERS);
  const send = (id: string, event: string, data: unknown) => reply.raw.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  await follow(
    deps,
    task.id,
    24 * 3600_000,
    async () => {
      const events = await deps.store.events(task.id, last);
      const current = (await deps.store.get(task.id)) ?? task;
      const view = toTaskObject(current, baseUrl(req));
      if (events.length === 0) {
        // Nothing new. A finished task ends the stream (one whose history expired still gets `done`).
        if (isTerminal(current.status)) {
          if (last === '0') send('0-0', 'done', view);
          return true;
        }
        reply.raw.write(': keep-alive\n\n');
        return undefined;
      }
      for (const e of events) {
        last = e.id;
        if (e.status !== status) send(e.id, 'status', { id: task.id, status: e.status });
        status = e.status;
        if (e.progress !== null) send(e.id, 'progress', { id: task.id, progress: e.progress });
        if (e.fields.some((f) => f === 'output' || f === 'image_url' || f === 'buttons')) send(e.id, 'output', { id: task.id, output: view.output });
        if (isTerminal(e.status)) {
          send(e.id, 'done', view);
          return true;
        }
      }
      return undefined;
    },
    { closed, pollMs: 15_000 },
  );
  reply.raw.end();
}
