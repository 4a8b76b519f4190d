import { anthropicFamily } from '../../../shared/families/anthropic/family.js';
import type { Processor } from '../../dispatch.js';
import { createClientCache } from '../../upstream/clients.js';
import { defineWorkerFamily } from '../types.js';
import { createAnthropicClient } from './client.js';
import { createAnthropicRequest } from './request.js';

type AnthropicJobs = keyof typeof anthropicFamily.jobs;

/**
 * The worker side of the Anthropic family: one Messages call per task, routed over the
 * `anthropic` channels with failover; probes read the channel's model list. A whole (non-stream)
 * answer may take SYNC_WAIT_SECONDS to start.
 */
export default defineWorkerFamily({
  name: anthropicFamily.name,
  create(deps) {
    const client = createClientCache(deps.config.UPSTREAM_TIMEOUT_SECONDS, (channel, timeoutMs) =>
      createAnthropicClient({ name: channel.name, baseUrl: channel.baseUrl, key: channel.key }, timeoutMs, deps.config.SYNC_WAIT_SECONDS * 1000),
    );
    const processors: { [N in AnthropicJobs]: Processor<N> } = {
      'anthropic.request': createAnthropicRequest({ store: deps.store, tokens: deps.tokens, channels: deps.channels, client }),
    };
    return { processors, probe: (channel) => client(channel).models() };
  },
});
