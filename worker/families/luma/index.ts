import { lumaFamily } from '../../../shared/families/luma/family.js';
import type { Processor } from '../../dispatch.js';
import { createClientCache } from '../../upstream/clients.js';
import { defineWorkerFamily } from '../types.js';
import { lumaTrackerAdapter } from './adapter.js';
import { createLumaClient } from './client.js';
import { createLumaSubmit } from './submit.js';

type LumaJobs = keyof typeof lumaFamily.jobs;

/** A generation id no upstream has: reading it costs a live Luma-API server nothing (a 404). */
const PROBE_ID = '00000000-0000-0000-0000-000000000000';

/** The worker side of the Luma family: submit (then the tracker follows the generation), probes. */
export default defineWorkerFamily({
  name: lumaFamily.name,
  create(deps) {
    const client = createClientCache(deps.config.UPSTREAM_TIMEOUT_SECONDS, (channel, timeoutMs) => createLumaClient(channel, timeoutMs, deps.log.child({ channel: channel.name })));
    const processors: { [N in LumaJobs]: Processor<N> } = {
      'luma.submit': createLumaSubmit({ store: deps.store, tracker: deps.tracker, channels: deps.channels, client }),
    };
    return {
      processors,
      tracker: lumaTrackerAdapter(deps.config, client),
      probe: (channel) => client(channel).get(PROBE_ID),
    };
  },
});
