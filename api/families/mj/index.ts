import { mjFamily } from '../../../shared/families/mj/family.js';
import { MJ_CODES } from '../../../shared/families/mj/protocol.js';
import type { ErrorReply } from '../../errors.js';
import { defineApiFamily } from '../types.js';
import { mjRoutes } from './routes.js';

/** The MJ envelope's code for an error: 3 not found, 24 banned prompt, 23 busy, 9 failure, else 4. */
function mjCodeOf(e: ErrorReply): number {
  if (e.status === 404) return MJ_CODES.NOT_FOUND;
  if (e.details?.bannedWord !== undefined) return MJ_CODES.BANNED_PROMPT;
  if (e.status === 429) return MJ_CODES.QUEUE_REJECTED;
  if (e.status >= 500) return MJ_CODES.FAILURE;
  return MJ_CODES.VALIDATION_ERROR;
}

/** The Midjourney-proxy routes at `/mj` and under the speed prefixes, with midjourney-proxy's envelope. */
export default defineApiFamily({
  name: mjFamily.name,
  routes(deps) {
    return async (app) => {
      await app.register(mjRoutes(deps, null), { prefix: '/mj' });
      await app.register(mjRoutes(deps, 'FAST'), { prefix: '/mj-fast/mj' });
      await app.register(mjRoutes(deps, 'RELAX'), { prefix: '/mj-relax/mj' });
      await app.register(mjRoutes(deps, 'TURBO'), { prefix: '/mj-turbo/mj' });
    };
  },
  errorBody: (e) => ({ code: mjCodeOf(e), description: e.message, result: null, properties: e.details ?? {} }),
  claims: (url) => /^\/mj(-[a-z]+\/mj)?\//.test(url),
});
