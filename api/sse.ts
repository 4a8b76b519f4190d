import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RedisClient } from '../shared/redis.js';
import { isTerminal, type Task, type TaskStatus } from '../shared/tasks/model.js';
import type { TaskEvent, TaskStore } from '../shared/tasks/store.js';
import { toTaskObject, type TaskObject } from '../shared/tasks/view.js';
import { follow, type FollowDeps } from './follow.js';
import { baseUrl } from './replay.js';

export interface SseDeps extends FollowDeps {
  redis: RedisClient;
  store: TaskStore;
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' };

/**
 * Takes the response over for a stream of server-sent events: the status line and headers go out
 * now, with every header set on the reply so far (CORS among them) besides the stream's own.
 */
export function openEventStream(reply: FastifyReply, taskId: string): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  reply.hijack();
  reply.raw.writeHead(200, { ...headers, ...SSE_HEADERS, 'x-relayq-task-id': taskId });
}

/** An AbortSignal that fires when the client goes away. */
export function closedSignal(req: FastifyRequest): AbortSignal {
  const ac = new AbortController();
  const socket = req.raw.socket;
  const onClose = () => ac.abort();
  socket.once('close', onClose);
  // A keep-alive connection carries many requests: the listener goes with this request's answer
  // (else every request on the connection adds one, and Node warns of a leak past ten).
  const res = (socket as { _httpMessage?: NodeJS.EventEmitter | null })._httpMessage;
  res?.once('close', () => socket.removeListener('close', onClose));
  return ac.signal;
}

/**
 * Where a client resumes: the task-change entry (`<ms>-<seq>`, a Redis stream id) and how many of
 * that entry's SSE events it already has. An SSE id is `<entry>:<n>` (the n-th event written for
 * that change); a bare `<entry>` means the whole entry was seen.
 */
export function parseEventId(header: unknown): { entry: string; seen: number | null } {
  const m = typeof header === 'string' ? /^(\d+-\d+)(?::(\d{1,2}))?$/.exec(header.trim()) : null;
  if (!m) return { entry: '0', seen: null };
  return { entry: m[1]!, seen: m[2] === undefined ? null : Number(m[2]) + 1 };
}

/**
 * The SSE events one task change gives, in order: `status` (when the change moved it; `prev`
 * decides only for entries that predate that record), `progress`, `output` (with the success:
 * the output is final then, so a replay shows what was sent live), `done`. The events of an entry
 * and their data depend on the entry alone (and the finished task), so the n-th event of an entry
 * is the same on every read.
 */
function eventsOf(e: TaskEvent, prev: TaskStatus | null, view: TaskObject): [string, unknown][] {
  const out: [string, unknown][] = [];
  if (e.changed ?? e.status !== prev) out.push(['status', { id: view.id, status: e.status }]);
  if (e.progress !== null) out.push(['progress', { id: view.id, progress: e.progress }]);
  if (e.status === 'succeeded') out.push(['output', { id: view.id, output: view.output }]);
  if (isTerminal(e.status)) out.push(['done', view]);
  return out;
}

/**
 * `GET /v1/tasks/{id}/events`: one SSE event per fact of each change — `status`, `progress`,
 * `output` — and `done` with the whole task at the end. Every event has its own id, so a
 * client that reconnects with `Last-Event-ID` gets exactly the events after the last one it saw.
 */
export async function streamEvents(req: FastifyRequest, reply: FastifyReply, deps: SseDeps, task: Task) {
  const closed = closedSignal(req);
  const resume = parseEventId(req.headers['last-event-id']);
  // Resuming inside an entry reads that entry again and skips the events already seen.
  let last = resume.entry;
  let skip = resume.seen !== null ? { entry: resume.entry, count: resume.seen } : null;
  let inclusive = skip !== null;
  let status: TaskStatus | null = null;
  openEventStream(reply, task.id);
  const send = (id: string, event: string, data: unknown) => reply.raw.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  await follow(
    deps,
    task.id,
    24 * 3600_000,
    async () => {
      const events = await deps.store.events(task.id, last, { inclusive });
      inclusive = false;
      const current = (await deps.store.get(task.id)) ?? task;
      const view = toTaskObject(current, baseUrl(req));
      if (events.length === 0) {
        // Nothing new. A finished task ends the stream (one whose history expired still gets `done`).
        if (isTerminal(current.status)) {
          if (last === '0') send('0-0:0', 'done', view);
          return true;
        }
        reply.raw.write(': keep-alive\n\n');
        return undefined;
      }
      for (const e of events) {
        last = e.id;
        const list = eventsOf(e, status, view);
        list.forEach(([event, data], n) => {
          if (skip?.entry === e.id && n < skip.count) return;
          send(`${e.id}:${n}`, event, data);
        });
        skip = null;
        status = e.status;
        if (isTerminal(e.status)) return true;
      }
      return undefined;
    },
    { closed, pollMs: 15_000 },
  );
  reply.raw.end();
}
