import type { FastifyRequest } from 'fastify';
import { redact } from '../shared/redact.js';

/**
 * What a route learned about the task a request created or joined, for the request's one log line
 * (`request`, written when the answer has gone out): `taskId`, `kind`, `ahead` (jobs waiting
 * ahead of it), `replayed` (an Idempotency-Key or SDK retry named an earlier task), and for
 * OpenAI-style calls `stream` and `mode`. Only such fixed, non-secret facts: the line is written
 * without pino's redaction pass.
 */
export interface TaskFacts {
  taskId: string;
  kind: string;
  ahead: number;
  replayed: boolean;
  stream?: boolean;
  mode?: string;
}

const facts = new WeakMap<FastifyRequest, TaskFacts>();

/** Puts the task's facts on the request's log line (one line per request, not one more per task). */
export function noteTask(req: FastifyRequest, task: TaskFacts): void {
  facts.set(req, task);
}

/** The facts a route noted for this request, if any. */
export const taskFactsOf = (req: FastifyRequest): TaskFacts | undefined => facts.get(req);

/**
 * A request target as the request log shows it: the path only — no query or fragment (keys travel
 * there), no scheme, host or userinfo of an absolute-form target (`GET http://user:pass@host/…`,
 * which Fastify routes) — with token-shaped credentials and known secrets redacted (a key pasted
 * into a base URL's path).
 */
export function logPath(target: string): string {
  let path = target.split(/[?#]/, 1)[0] ?? '';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (absolute) path = path.slice(absolute[0].length) || '/';
  return redact(path);
}
