import { defaultsForm } from '../../tasks/forms.js';
import { defineFamily } from '../types.js';
import { compactButtons, expandButtons } from './buttons.js';
import { mjSeed, mjSubmit } from './jobs.js';
import { MJ_KINDS, MJ_REQUEST_DEFAULTS, type MjButton, type MjTask } from './task.js';
import { toMjTask } from './view.js';

/**
 * Midjourney-proxy: image jobs (imagine, blend, describe, shorten, actions with their modal step,
 * face swap) relayed to Midjourney-proxy-compatible channels and followed there by the tracker.
 */
export const mjFamily = defineFamily<MjTask>()({
  name: 'mj',
  channelType: 'mj',
  kinds: MJ_KINDS,
  queues: [{ name: 'mj', concurrency: (config) => config.MJ_CONCURRENCY }],
  queueOf: () => 'mj',
  jobs: { [mjSubmit.name]: mjSubmit, [mjSeed.name]: mjSeed },
  /** What a client needs of a finished MJ task without the MJ envelope. */
  output(task) {
    if (task.status !== 'succeeded') return task.output ?? null;
    return {
      image_url: task.image_url,
      ...(task.image_urls.length ? { image_urls: task.image_urls } : {}),
      buttons: task.buttons,
      ...(typeof task.properties.finalPrompt === 'string' ? { final_prompt: task.properties.finalPrompt } : {}),
    };
  },
  contentUrl: (task) => task.image_url,
  /** The final image (an MJ grid or upscale) and the grid's single images with their thumbnails. */
  archive: {
    urls: (task) => [task.image_url, ...task.image_urls.flatMap((i) => [i.url, i.thumbnail])].filter((u): u is string => Boolean(u)),
    replace: (task, urlOf) => ({
      image_url: task.image_url ? (urlOf(task.image_url) ?? task.image_url) : null,
      image_urls: task.image_urls.map((i) => ({ url: urlOf(i.url) ?? i.url, thumbnail: i.thumbnail ? (urlOf(i.thumbnail) ?? i.thumbnail) : null })),
    }),
  },
  callbackBody: (task) => toMjTask(task),
  /**
   * Stored without the request's defaults and an upstream's null `modalId`; the upstream's button
   * list as template indices against its message hash (~1 KB → ~70 B for a grid's nine buttons).
   */
  storedForms: {
    mj: defaultsForm([...Object.keys(MJ_REQUEST_DEFAULTS), 'action', 'prompt', 'description'], MJ_REQUEST_DEFAULTS),
    upstream: defaultsForm(['channel', 'id', 'modalId', 'status'], { modalId: null }),
    buttons: { pack: (list) => (Array.isArray(list) && list.length > 0 ? compactButtons(list as MjButton[]) : list), unpack: expandButtons },
  },
  complete: (task) => ({ ...task, image_url: task.image_url ?? null, image_urls: task.image_urls ?? [], buttons: task.buttons ?? [], properties: task.properties ?? {}, modal: task.modal ?? null, seed: task.seed ?? null }),
});
