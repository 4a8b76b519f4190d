import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../shared/errors.js';
import type { Task } from '../../shared/tasks/model.js';
import { toTaskObject } from '../../shared/tasks/view.js';
import { canSee } from '../auth.js';
import { cancelTask, type CancelDeps } from '../cancel.js';
import { parse } from '../errors.js';

const params = z.object({ id: z.string().min(1).max(64) });

export const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/** Generic task routes (`/v1/tasks/...`): every task, MJ ones included. */
export function taskRoutes(deps: CancelDeps) {
  async function visible(req: FastifyRequest): Promise<Task> {
    const { id } = parse(params, req.params, 'id');
    const task = await deps.store.get(id);
    if (!task || !canSee(req.principal, task)) throw new NotFoundError(`task not found: ${id}`);
    return task;
  }

  return async function plugin(app: FastifyInstance) {
    app.get('/v1/tasks/:id', async (req) => toTaskObject(await visible(req), baseUrl(req)));

    app.post('/v1/tasks/:id/cancel', async (req) => toTaskObject(await cancelTask(deps, await visible(req)), baseUrl(req)));
  };
}
