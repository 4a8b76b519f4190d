import type { FastifyInstance } from 'fastify';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import type { ChannelState } from '../../shared/channels/state.js';
import { CHANNEL_TYPES } from '../../shared/channels/config.js';
import { ForbiddenError } from '../../shared/errors.js';
import { routeDoc } from '../openapi.js';

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
    const doc = routeDoc({
      tags: ['operations'],
      summary: 'Channels and their state',
      description: 'Admin keys only. Every channel\'s settings and shared state (healthy, cooling_down, open, disabled; in flight; rpm used; recent errors); keys are never shown.',
      responses: {
        200: {
          description: 'The channels.',
          example: { object: 'list', data: [{ name: 'primary', type: CHANNEL_TYPES[0], base_url: 'https://api.example.com/v1', enabled: true, priority: 0, weight: 1, models: null, kinds: null, limits: { concurrency: null, rpm: null }, state: 'healthy', in_flight: 0, rpm_used: 6, consecutive_failures: 0, cooldown_until: null, open_until: null, recent_errors: [] }] },
        },
        403: { description: 'Not an admin key.' },
      },
    });
    app.get('/admin/channels', { schema: doc }, async () => ({ object: 'list', data: await deps.channelState.view([...deps.registry.all()]) }));
  };
}
