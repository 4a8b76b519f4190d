import { videoFamily } from '../../../shared/families/video/family.js';
import type { Processor } from '../../dispatch.js';
import { createClientCache } from '../../upstream/clients.js';
import { defineWorkerFamily } from '../types.js';
import { videoTrackerAdapter } from './adapter.js';
import { createVideoClient } from './client.js';
import { createVideoSubmit } from './submit.js';

type VideoJobs = keyof typeof videoFamily.jobs;

/**
 * The worker side of OpenAI videos: submit (then the tracker follows each video with one GET per
 * tick, within a per-channel budget). Channels are `openai` ones, whose probe the OpenAI family
 * brings.
 */
export default defineWorkerFamily({
  name: videoFamily.name,
  create(deps) {
    const client = createClientCache(deps.config.UPSTREAM_TIMEOUT_SECONDS, (channel, timeoutMs) => createVideoClient({ name: channel.name, baseUrl: channel.baseUrl, key: channel.key }, timeoutMs));
    const processors: { [N in VideoJobs]: Processor<N> } = {
      'video.submit': createVideoSubmit({ store: deps.store, tracker: deps.tracker, channels: deps.channels, client }),
    };
    return { processors, tracker: videoTrackerAdapter(deps.config, client) };
  },
});
