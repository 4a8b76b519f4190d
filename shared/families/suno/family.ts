import { defineFamily } from '../types.js';
import { sunoSubmit } from './jobs.js';
import { SUNO_KINDS, type SunoTask } from './task.js';
import { clipsOf, isObject } from './upstream.js';
import { sunoContentUrl, sunoOutput, toSunoTask } from './view.js';

/** The media fields of a Suno clip. */
const CLIP_MEDIA = ['audio_url', 'video_url', 'image_url', 'image_large_url'] as const;

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
  /** Each clip's audio, video and cover images. */
  archive: {
    urls: (task) => clipsOf(task.data).flatMap((c) => CLIP_MEDIA.flatMap((f) => (typeof c[f] === 'string' && c[f] ? [c[f]] : []))),
    replace: (task, urlOf) => ({
      data: Array.isArray(task.data)
        ? task.data.map((c: unknown) => {
            if (!isObject(c)) return c;
            const out = { ...c };
            for (const f of CLIP_MEDIA) if (typeof c[f] === 'string' && c[f]) out[f] = urlOf(c[f]) ?? c[f];
            return out;
          })
        : task.data,
    }),
  },
  /** A `notify_hook` gets the Suno task object, as `GET /suno/fetch/{id}` shows it. */
  callbackBody: toSunoTask,
  complete: (task) => ({ ...task, data: task.data ?? null, suno: { body: task.suno?.body ?? {}, parentId: task.suno?.parentId ?? null, mv: task.suno?.mv ?? null } }),
});
