import { lumaFamily } from '../../../shared/families/luma/family.js';
import type { ErrorReply } from '../../errors.js';
import { defineApiFamily } from '../types.js';
import { lumaRoutes } from './routes.js';

/**
 * Luma-API's own error body, `{"detail":{"reason","code":1}}`, with the OpenAI-style `error`
 * envelope beside it: clients of Luma relays read one or the other (Dooy's web client reads
 * `error.message`).
 */
const lumaErrorBody = (e: ErrorReply) => ({
  detail: { reason: e.message, code: 1 },
  error: { message: e.message, type: e.type, param: e.param ?? null, code: e.type },
});

/** The Luma-API routes at `/luma` and `/luma/v1`. */
export default defineApiFamily({
  name: lumaFamily.name,
  routes(deps) {
    return async (app) => {
      await app.register(lumaRoutes(deps), { prefix: '/luma' });
      await app.register(lumaRoutes(deps), { prefix: '/luma/v1' });
    };
  },
  errorBody: lumaErrorBody,
  claims: (url) => /^\/luma(\/|$|\?)/.test(url),
});
