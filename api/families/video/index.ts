import { videoFamily } from '../../../shared/families/video/family.js';
import { defineApiFamily } from '../types.js';
import { videoRoutes } from './routes.js';

/** The OpenAI Videos API under `/v1/videos`; errors use the core's envelope, which is OpenAI's. */
export default defineApiFamily({
  name: videoFamily.name,
  routes: (deps) => videoRoutes(deps),
  // The pace the OpenAI SDKs' video pollers wait between two reads.
  exposedHeaders: ['openai-poll-after-ms'],
});
