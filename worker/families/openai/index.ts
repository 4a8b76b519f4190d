import { openaiFamily } from '../../../shared/families/openai/family.js';
import { createModelsCache } from '../../../shared/families/openai/models-cache.js';
import type { Processor } from '../../dispatch.js';
import { createClientCache } from '../../upstream/clients.js';
import { defineWorkerFamily } from '../types.js';
import { createOpenAiClient } from './client.js';
import { createOpenAiModels, createOpenAiRequest } from './request.js';

type OpenAiJobs = keyof typeof openaiFamily.jobs;

/**
 * The worker side of the OpenAI family: one call per task on the queue of its workload, the merged
 * model list, probes. A whole (non-stream) answer may take SYNC_WAIT_SECONDS to start.
 */
export default defineWorkerFamily({
  name: openaiFamily.name,
  create(deps) {
    const client = createClientCache(deps.config.UPSTREAM_TIMEOUT_SECONDS, (channel, timeoutMs) =>
      createOpenAiClient({ name: channel.name, baseUrl: channel.baseUrl, key: channel.key }, timeoutMs, deps.config.SYNC_WAIT_SECONDS * 1000),
    );
    const request = createOpenAiRequest({ store: deps.store, tokens: deps.tokens, channels: deps.channels, client, archiver: deps.archiver });
    const processors: { [N in OpenAiJobs]: Processor<N> } = {
      'text.request': request,
      'image.request': request,
      'audio.request': request,
      'openai.models': createOpenAiModels({ client, registry: deps.registry, models: createModelsCache({ redis: deps.redis, prefix: deps.config.QUEUE_PREFIX }), log: deps.log.child({ component: 'models' }) }),
    };
    return { processors, probe: (channel) => client(channel).models() };
  },
});
