import { defineFamily } from '../types.js';
import { lumaSubmit } from './jobs.js';
import { LUMA_KINDS, LUMA_QUEUE, pendingGeneration, type LumaTask } from './task.js';
import { lumaContentUrl, lumaOutput, toLumaGeneration } from './view.js';

/**
 * Luma video generations (and their extensions) relayed to Luma-API-compatible channels
 * (LumaAI-API/Luma-API and the relays that copy it) and followed there by the tracker.
 */
export const lumaFamily = defineFamily<LumaTask>()({
  name: 'luma',
  channelType: 'luma',
  kinds: LUMA_KINDS,
  queues: [{ name: LUMA_QUEUE, concurrency: (config) => config.LONG_TASK_CONCURRENCY }],
  queueOf: () => LUMA_QUEUE,
  jobs: { [lumaSubmit.name]: lumaSubmit },
  output: lumaOutput,
  contentUrl: lumaContentUrl,
  /** A `notify_hook` gets the generation object, as Luma-API clients read it. */
  callbackBody: toLumaGeneration,
  complete: (task) => ({ ...task, generation: { ...pendingGeneration(), ...task.generation } }),
});
