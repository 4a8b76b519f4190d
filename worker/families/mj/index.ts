import { mjFamily } from '../../../shared/families/mj/family.js';
import type { Processor } from '../../dispatch.js';
import { createClientCache } from '../../upstream/clients.js';
import { defineWorkerFamily } from '../types.js';
import { mjTrackerAdapter } from './adapter.js';
import { createMjClient } from './client.js';
import { createMjSeed } from './seed.js';
import { createMjSubmit } from './submit.js';

type MjJobs = keyof typeof mjFamily.jobs;

/** The worker side of the MJ family: submit (then the tracker follows the work), seed, probes. */
export default defineWorkerFamily({
  name: mjFamily.name,
  create(deps) {
    const client = createClientCache(deps.config.UPSTREAM_TIMEOUT_SECONDS, (channel, timeoutMs) =>
      createMjClient({ name: channel.name, baseUrl: channel.baseUrl, secret: channel.key }, timeoutMs, deps.log.child({ channel: channel.name })),
    );
    const processors: { [N in MjJobs]: Processor<N> } = {
      'mj.submit': createMjSubmit({ store: deps.store, tracker: deps.tracker, channels: deps.channels, client }),
      'mj.seed': createMjSeed({ store: deps.store, signals: deps.signals, prefix: deps.config.QUEUE_PREFIX, channels: deps.channels, client }),
    };
    return {
      processors,
      tracker: mjTrackerAdapter(deps.config, client),
      // An empty list-by-condition: answered by any live midjourney-proxy, costs it nothing.
      probe: (channel) => client(channel).listByCondition([]),
    };
  },
});
