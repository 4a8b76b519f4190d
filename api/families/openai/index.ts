import { openaiFamily } from '../../../shared/families/openai/family.js';
import { defineApiFamily } from '../types.js';
import { openaiRoutes } from './routes.js';

/** The OpenAI-compatible routes under `/v1`; their errors use the core's envelope, which is OpenAI's. */
export default defineApiFamily({
  name: openaiFamily.name,
  routes: (deps) => openaiRoutes(deps),
});
