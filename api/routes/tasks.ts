import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { parseTaskId } from '../../shared/ids.js';
import { createDeliveryLog } from '../../shared/protocols/deliveries.js';
import { webhookSecret } from '../../shared/webhooks.js';
import { TASK_KINDS, TASK_QUEUES, familyNamed } from '../../shared/families/catalog.js';
import { TASK_STATUSES, type Task } from '../../shared/tasks/model.js';
import { toTaskObject } from '../../shared/tasks/view.js';
import { canSee } from '../auth.js';
import { cancelTask, type CancelDeps } from '../cancel.js';
import { parse } from '../errors.js';
import { baseUrl, sendBlob, taskHeader } from '../replay.js';
import { streamEvents, type SseDeps } from '../sse.js';
import { taskDocs } from './tasks-docs.js';

const params = z.object({ id: z.string() });

const listQuery = z.object({
  status: z.enum(TASK_STATUSES, { error: `must be one of ${TASK_STATUSES.join(', ')}` }).optional(),
  kind: z.enum(TASK_KINDS, { error: `must be a task kind: ${TASK_KINDS.join(', ')}` }).optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
  after: z.string().min(1).max(64).optional(),
});


/** Generic task routes (`/v1/tasks/...`): every task, MJ ones included. */
export function taskRoutes(deps: CancelDeps & SseDeps) {
  const deliveries = createDeliveryLog(deps);
  const docs = taskDocs({ params, listQuery });
  /** The task the route names, when this principal may see it (404 otherwise); marks the answer with its id. */
  async function visible(req: FastifyRequest, reply: FastifyReply): Promise<Task> {
    const { id } = parse(params, req.params, 'id');
    // An id that is not one of ours (too long, wrong shape) names no task: 404 like any unknown id.
    const task = await deps.store.get(id);
    if (!task || !canSee(req.principal, task)) throw new NotFoundError(`task not found: ${id.slice(0, 64)}`);
    taskHeader(reply, task.id);
    return task;
  }

  return async function plugin(app: FastifyInstance) {
    app.get('/v1/tasks', { schema: docs.list }, async (req) => {
      const q = parse(listQuery, req.query, 'query');
      const tenant = req.principal.tenant;
      let cursor: Task | null = null;
      if (q.after) {
        cursor = await deps.store.get(q.after);
        if (!cursor || cursor.tenant !== tenant) throw new ValidationError('after', 'is not a task id of yours');
      }
      // Filters are applied after reading, so a sparse filter may take a few rounds.
      const found: Task[] = [];
      let more = true;
      for (let round = 0; round < 10 && more && found.length <= q.limit; round++) {
        const page = await deps.store.listByTenant(tenant, TASK_QUEUES, 100, cursor ?? undefined);
        const tasks = page.tasks;
        more = page.more;
        for (const t of tasks) if ((!q.status || t.status === q.status) && (!q.kind || t.kind === q.kind)) found.push(t);
        const last = tasks[tasks.length - 1];
        if (!last) break;
        cursor = last;
      }
      const page = found.slice(0, q.limit);
      return {
        object: 'list',
        data: page.map((t) => toTaskObject(t, baseUrl(req), null, { admin: req.principal.admin })),
        first_id: page[0]?.id ?? null,
        last_id: page[page.length - 1]?.id ?? null,
        has_more: found.length > q.limit || more,
      };
    });

    app.get('/v1/tasks/:id', { schema: docs.get }, async (req, reply) => {
      const task = await visible(req, reply);
      const position = task.status === 'queued' ? await deps.queues.position(parseTaskId(task.id)!, task.id).catch(() => null) : null;
      return toTaskObject(task, baseUrl(req), position, { admin: req.principal.admin });
    });

    app.post('/v1/tasks/:id/cancel', { schema: docs.cancel }, async (req, reply) => toTaskObject(await cancelTask(deps, await visible(req, reply)), baseUrl(req)));

    app.get('/v1/tasks/:id/content', { schema: docs.content }, async (req, reply) => {
      const task = await visible(req, reply);
      if (task.status === 'succeeded' && task.response) {
        const blob = await deps.store.openBlob(task.id, 'response');
        if (blob) return sendBlob(reply, blob, task.response.content_type);
      }
      // Work whose result lives at the upstream (an MJ image, a video): its URL, as the family gives it.
      const url = task.status === 'succeeded' ? familyNamed(task.family)?.contentUrl?.(task) : null;
      if (url) return reply.redirect(url, 302);
      throw new NotFoundError(`task ${task.id} has no content${task.status === 'succeeded' ? '' : ` (it is ${task.status})`}`);
    });

    app.get('/v1/tasks/:id/events', { schema: docs.events }, async (req, reply) => streamEvents(req, reply, deps, await visible(req, reply)));

    app.get('/v1/tasks/:id/deliveries', { schema: docs.deliveries }, async (req, reply) => {
      const task = await visible(req, reply);
      const data = await deliveries.list(task.id);
      return { object: 'list', webhook: task.webhook ? { url: task.webhook.url, events: task.webhook.events } : null, data };
    });

    app.get('/v1/webhooks/secret', { schema: docs.secret }, async (req) => ({ key: await webhookSecret(deps.redis, deps.prefix, req.principal.tenant) }));
  };
}
