import { sunoFamily } from '../../../shared/families/suno/family.js';
import type { Processor } from '../../dispatch.js';
import { createClientCache } from '../../upstream/clients.js';
import { defineWorkerFamily } from '../types.js';
import { sunoTrackerAdapter } from './adapter.js';
import { createSunoClient } from './client.js';
import { createSunoSubmit } from './submit.js';

type SunoJobs = keyof typeof sunoFamily.jobs;

/** The worker side of the Suno family: submit (then the tracker follows the work), probes. */
export default defineWorkerFamily({
  name: sunoFamily.name,
  create(deps) {
    const client = createClientCache(deps.config.UPSTREAM_TIMEOUT_SECONDS, (channel, timeoutMs) =>
      createSunoClient({ name: channel.name, baseUrl: channel.baseUrl, key: channel.key }, timeoutMs, deps.log.child({ channel: channel.name })),
    );
    const processors: { [N in SunoJobs]: Processor<N> } = {
      'suno.submit': createSunoSubmit({ store: deps.store, tracker: deps.tracker, channels: deps.channels, client }),
    };
    return {
      processors,
      tracker: sunoTrackerAdapter(deps.config, client),
      // An empty batch read: answered by any live suno-api, costs it nothing.
      probe: (channel) => client(channel).fetch([]),
    };
  },
});
