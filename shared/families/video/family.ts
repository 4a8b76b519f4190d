import { defineFamily } from '../types.js';
import { videoSubmit } from './jobs.js';
import { VIDEO_KINDS, type VideoTask } from './task.js';
import { toVideoObject } from './view.js';

/**
 * OpenAI videos (`/v1/videos`, Sora-style): generations and remixes relayed to OpenAI-compatible
 * channels (the `openai` channel type, base URL including `/v1`) and followed there by the
 * tracker, one upstream read per video. The bytes stay upstream: `/v1/videos/{id}/content`
 * streams them through.
 */
export const videoFamily = defineFamily<VideoTask>()({
  name: 'video',
  channelType: 'openai',
  kinds: VIDEO_KINDS,
  queues: [{ name: 'video', concurrency: (config) => config.LONG_TASK_CONCURRENCY }],
  queueOf: () => 'video',
  jobs: { [videoSubmit.name]: videoSubmit },
  /** A finished video's OpenAI Video object (and the upstream's media URL when it gave one). */
  output(task) {
    if (task.status !== 'succeeded') return null;
    return { ...toVideoObject(task), ...(task.reported?.video_url ? { video_url: task.reported.video_url } : {}) };
  },
  /**
   * The media URL some upstreams add (`video_url`). The bytes behind `/content` need the channel's
   * key and stay there.
   */
  archive: {
    urls: (task) => (task.reported?.video_url ? [task.reported.video_url] : []),
    replace: (task, urlOf) => (task.reported?.video_url ? { reported: { ...task.reported, video_url: urlOf(task.reported.video_url) ?? task.reported.video_url } } : {}),
  },
  // The bytes are streamed through relayq's own route (the upstream wants the channel's key).
  contentUrl: (task) => `/v1/videos/${task.id}/content`,
  complete: (task) => ({ ...task, reported: task.reported ?? null, deleted_at: task.deleted_at ?? null }),
});
