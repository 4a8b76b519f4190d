import { defineFamily } from '../types.js';
import { lumaSubmit } from './jobs.js';
import { LUMA_KINDS, LUMA_QUEUE, pendingGeneration, type LumaMedia, type LumaTask } from './task.js';

const LUMA_MEDIA = ['video', 'video_raw', 'thumbnail', 'last_frame'] as const;
const mediaUrls = (m: LumaMedia | null) => [m?.url, m?.download_url].filter((u): u is string => typeof u === 'string' && u !== '');
const replaceMedia = (m: LumaMedia | null, urlOf: (u: string) => string | null): LumaMedia | null =>
  m && { ...m, url: m.url ? (urlOf(m.url) ?? m.url) : m.url, ...(m.download_url ? { download_url: urlOf(m.download_url) ?? m.download_url } : {}) };
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
  /** The video (and its download link), the raw video, the thumbnail and the last frame. */
  archive: {
    urls: (task) => LUMA_MEDIA.flatMap((f) => mediaUrls(task.generation[f])),
    replace: (task, urlOf) => ({
      generation: { ...task.generation, ...Object.fromEntries(LUMA_MEDIA.map((f) => [f, replaceMedia(task.generation[f], urlOf)])) },
    }),
  },
  /** A `notify_hook` gets the generation object, as Luma-API clients read it. */
  callbackBody: toLumaGeneration,
  complete: (task) => ({ ...task, generation: { ...pendingGeneration(), ...task.generation } }),
});
