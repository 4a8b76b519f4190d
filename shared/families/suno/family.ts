import { defineFamily } from '../types.js';
import { sunoSubmit } from './jobs.js';
import { SUNO_KINDS, type SunoTask } from './task.js';
import { sunoContentUrl, sunoOutput, toSunoTask } from './view.js';

/**
 * Suno music and lyrics in the suno-api task dialect (`/suno/submit/{music,lyrics}`,
 * `/suno/fetch`), relayed to suno-api-compatible channels and followed there by the tracker.
 */
export const sunoFamily = defineFamily<SunoTask>()({
  name: 'suno',
  channelType: 'suno',
  kinds: SUNO_KINDS,
  queues: [{ name: 'suno', concurrency: (config) => config.LONG_TASK_CONCURRENCY }],
  queueOf: () => 'suno',
  jobs: { [sunoSubmit.name]: sunoSubmit },
  output: sunoOutput,
  contentUrl: sunoContentUrl,
  /** A `notify_hook` gets the Suno task object, as `GET /suno/fetch/{id}` shows it. */
  callbackBody: toSunoTask,
  complete: (task) => ({ ...task, data: task.data ?? null, suno: { body: task.suno?.body ?? {}, parentId: task.suno?.parentId ?? null, mv: task.suno?.mv ?? null } }),
});
