import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { QUEUE_NAMES } from '../../shared/families/catalog.js';
import { storeCall } from '../../shared/errors.js';
import { globalKeys, placements } from '../../shared/keys.js';
import type { RedisClient } from '../../shared/redis.js';
import type { Queues } from '../../shared/queues.js';
import { cookieValue, SESSION_COOKIE, sessionCookie, type AdminSessions } from '../admin-session.js';
import { routeDoc } from '../openapi.js';
import { defineWindowCounter } from '../rate-limit.js';

/** Where the dashboard lives. */
export const BOARD_PATH = '/admin/queues';

const page = (message: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relayq admin</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}input,button{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0}p.msg{color:#b00}</style></head>
<body><h1>relayq admin</h1>${message ? `<p class="msg">${message}</p>` : ''}
<form method="post" action="/admin/login"><label>Admin key (ADMIN_KEYS)<input type="password" name="key" autocomplete="current-password" required autofocus></label><button type="submit">Sign in</button></form>
</body></html>`;

/** Whether the request came over https: directly, or per the proxy in front (only ever makes the cookie stricter). */
const isHttps = (req: FastifyRequest) => req.protocol === 'https' || String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https';

/**
 * Whether a request to the dashboard carries a live admin session cookie. Only dashboard paths
 * honour the cookie: every other route still needs a key in a header.
 */
export function hasBoardSession(sessions: AdminSessions, req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '';
  if (path !== BOARD_PATH && !path.startsWith(`${BOARD_PATH}/`)) return false;
  return sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE));
}

/** Failed sign-ins one client address may make per window, and the window (s), across every API replica. */
const LOGIN_FAILURES_ALLOWED = 10;
const LOGIN_WINDOW_SECONDS = 900;

/**
 * The BullMQ dashboard (bull-board) at `/admin/queues` over every queue and shard, for admins
 * only: a key in a header (`Authorization: Bearer`), or a browser session from `/admin/login`.
 *
 * Login: `GET /admin/login` shows a form; `POST /admin/login` takes the key in the form body (never
 * in the URL, never logged) and sets an HttpOnly, SameSite=Strict cookie holding a signed session
 * (createAdminSessions), Secure over https; `POST /admin/logout` clears it. After
 * LOGIN_FAILURES_ALLOWED refused keys from one client address within LOGIN_WINDOW_SECONDS, further
 * sign-ins from it get 429 with Retry-After until the window ends, whatever key they send (an admin
 * key a person chose may be guessable; keys in an Authorization header are not limited here).
 */
export function queueBoardRoutes(deps: {
  /** Counts failed sign-ins per client address (shared by every API replica). */
  redis: RedisClient;
  prefix: string;
  queues: Queues;
  shards: number;
  sessions: AdminSessions;
  /** Answers a refusal in the core's error format (the dashboard's own error handler would make it a 500). */
  refuse: (req: FastifyRequest, reply: FastifyReply, e: { status: number; type: string; message: string }) => unknown;
}) {
  // One failure counted; the window starts with the first failure.
  defineWindowCounter(deps.redis);
  return async function plugin(app: FastifyInstance) {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body: string, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body)));
    });

    const login = routeDoc({
      tags: ['operations'],
      summary: 'Admin sign-in for the queue dashboard',
      description: 'Form field `key` (an admin key). Sets an HttpOnly, SameSite=Strict session cookie and redirects to /admin/queues/.',
      open: true,
      body: z.object({ key: z.string().meta({ description: 'an admin key (ADMIN_KEYS)', format: 'password' }) }),
      example: { key: 'sk-admin-…' },
      consumes: ['application/x-www-form-urlencoded'],
      responses: {
        303: { description: 'Signed in: to the dashboard.' },
        401: { description: 'Not an admin key: the form again.', contentType: 'text/html', example: '<!doctype html>…<p class="msg">That is not an admin key.</p>…' },
        429: { description: 'Too many failed sign-ins from this address (10 per 15 min); Retry-After says when to try again.', contentType: 'text/html', example: '<!doctype html>…<p class="msg">Too many failed sign-ins from this address; try again in 15 min.</p>…' },
      },
    });
    app.get('/admin/login', { schema: routeDoc({ tags: ['operations'], summary: 'Admin sign-in form', open: true, responses: { 200: { description: 'The form.', contentType: 'text/html', example: '<!doctype html>…<form method="post" action="/admin/login">…' } } }) }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(page('')));
    app.post('/admin/login', { schema: login }, async (req: FastifyRequest, reply: FastifyReply) => {
      const failures = globalKeys(deps.prefix).adminLoginFailures(req.ip);
      const [count, ttl] = await storeCall(() => Promise.all([deps.redis.get(failures), deps.redis.ttl(failures)]));
      if (Number(count ?? 0) >= LOGIN_FAILURES_ALLOWED) {
        req.log.warn({ status: 429 }, 'admin sign-in refused: too many failed attempts from this address');
        const wait = ttl > 0 ? ttl : LOGIN_WINDOW_SECONDS;
        return reply.status(429).header('retry-after', String(wait)).type('text/html; charset=utf-8').send(page(`Too many failed sign-ins from this address; try again in ${Math.ceil(wait / 60)} min.`));
      }
      const key = typeof (req.body as { key?: unknown } | null)?.key === 'string' ? (req.body as { key: string }).key.trim() : '';
      const token = key ? deps.sessions.issue(key) : null;
      if (!token) {
        await storeCall(() => deps.redis.relayqRateClaim(failures, LOGIN_WINDOW_SECONDS, 1));
        req.log.info({ status: 401 }, 'admin sign-in refused');
        return reply.status(401).type('text/html; charset=utf-8').send(page('That is not an admin key.'));
      }
      req.log.info('admin signed in');
      return reply.header('set-cookie', sessionCookie(token, isHttps(req))).header('cache-control', 'no-store').redirect(`${BOARD_PATH}/`, 303);
    });
    const logout = routeDoc({ tags: ['operations'], summary: 'Admin sign-out', description: 'Clears the session cookie.', open: true, responses: { 303: { description: 'To the sign-in form.' } } });
    app.post('/admin/logout', { schema: logout }, async (req, reply) => reply.header('set-cookie', sessionCookie(null, isHttps(req))).redirect('/admin/login', 303));

    await app.register(async (scope) => {
      scope.addHook('onRequest', async (req, reply) => {
        if (!req.principal?.admin) return deps.refuse(req, reply, { status: 403, type: 'permission_error', message: 'an admin key (ADMIN_KEYS) is required' });
      });
      const board = new FastifyAdapter();
      board.setBasePath(BOARD_PATH);
      const queues = QUEUE_NAMES.flatMap((name) =>
        placements(name, deps.shards).map(
          // Read-only: a job removed, emptied or cleaned from here would leave its task queued
          // for ever (relayq's task and its job are one unit), and a retried one would run again
          // for a task that already ended.
          (p) => new BullMQAdapter(deps.queues.get(p), { readOnlyMode: true, allowRetries: false, ...(p.shard === 0 ? { displayName: name } : { displayName: `${name} (shard ${p.shard})`, prefix: `shard${p.shard}-` }) }),
        ),
      );
      createBullBoard({ queues, serverAdapter: board, options: { uiConfig: { boardTitle: 'relayq' } } });
      await scope.register(board.registerPlugin(), { prefix: BOARD_PATH });
    });
  };
}
