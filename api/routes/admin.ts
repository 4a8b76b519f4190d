import type { FastifyInstance } from 'fastify';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import type { ChannelState } from '../../shared/channels/state.js';
import { ForbiddenError } from '../../shared/errors.js';

/**
 * Operator routes, admin keys only. `GET /admin/channels`: every channel's settings and shared
 * state (healthy / cooling down until / open, in flight, rpm used, recent errors); keys are never
 * shown.
 */
export function adminRoutes(deps: { registry: ChannelRegistry; channelState: ChannelState }) {
  return async function plugin(app: FastifyInstance) {
    app.addHook('onRequest', async (req) => {
      if (!req.principal?.admin) throw new ForbiddenError('an admin key (ADMIN_KEYS) is required');
    });
    app.get('/admin/channels', async () => ({ object: 'list', data: await deps.channelState.view([...deps.registry.all()]) }));
  };
}
