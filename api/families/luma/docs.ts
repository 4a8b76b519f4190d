import { routeDoc } from '../../openapi.js';
import { generationBody, taskIdParams } from './schemas.js';

const ID = 'luma_MPJIfzQU1BdE9izpcnHe';
const pending = { id: ID, prompt: 'a cat surfing a wave', state: 'pending', created_at: '2026-11-30T12:46:53.511Z', video: null, video_raw: null, thumbnail: null, last_frame: null, liked: null, estimate_wait_seconds: null, failure_reason: null, assets: null };
const completed = {
  ...pending,
  state: 'completed',
  video: { url: 'https://cdn.example.com/36a37f52-video.mp4', download_url: 'https://cdn.example.com/36a37f52-video.mp4?download=1', width: 1360, height: 752 },
  thumbnail: { url: 'https://cdn.example.com/36a37f52-thumb.jpg', width: 1360, height: 752 },
  assets: { video: 'https://cdn.example.com/36a37f52-video.mp4' },
};
const accepted = { 200: { description: 'Accepted: the generation, pending.', example: pending }, 400: { description: 'Refused, naming the field.' } };
const example = { user_prompt: 'a cat surfing a wave', aspect_ratio: '16:9', expand_prompt: true };

/** The OpenAPI documentation of the Luma routes (Luma-API's shapes, under /luma and /luma/v1). */
export const docs = {
  generate: routeDoc({ summary: 'Generate a video', description: 'From a prompt, and/or a first (`image_url`) and last (`image_end_url`) frame.', body: generationBody, example, responses: accepted }),
  extend: routeDoc({ summary: 'Extend a generation', description: 'Continues a completed generation.', params: taskIdParams, body: generationBody, example: { user_prompt: 'the cat rides the wave to the shore' }, responses: accepted }),
  get: routeDoc({ summary: 'Fetch a generation', params: taskIdParams, responses: { 200: { description: 'The generation.', example: completed }, 404: { description: 'No such generation for this key.' } } }),
  download: routeDoc({ summary: 'Download link', description: 'The video\'s download link, once completed.', params: taskIdParams, responses: { 200: { description: 'The link.', example: { url: completed.video.download_url } } } }),
};
