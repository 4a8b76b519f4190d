import { routeDoc } from '../../openapi.js';
import * as s from './schemas.js';

const ID = 'video_635WxRDbSkyruZwlTKWp';
const video = { id: ID, object: 'video', completed_at: 1796042790, created_at: 1796042787, error: null, expires_at: 1796046390, model: 'sora-2', progress: 100, prompt: 'a paper boat drifting down a rainy street', remixed_from_video_id: null, seconds: '4', size: '720x1280', status: 'completed' };
const queued = { ...video, completed_at: null, expires_at: null, progress: 0, status: 'queued' };
const notFound = { description: 'No such video for this key.' };

/** The OpenAPI documentation of the OpenAI videos routes. */
export const docs = {
  create: routeDoc({
    summary: 'Create a video',
    description: 'JSON, or multipart/form-data with an `input_reference` image file.',
    body: s.createBody,
    example: { model: 'sora-2', prompt: 'a paper boat drifting down a rainy street', seconds: '4', size: '720x1280' },
    responses: { 200: { description: 'Accepted: the video, queued.', example: queued }, 400: { description: 'Refused, naming the field.' } },
  }),
  list: routeDoc({ summary: 'List videos', querystring: s.listQuery, responses: { 200: { description: 'A page of videos.', example: { object: 'list', data: [video], first_id: ID, last_id: ID, has_more: false } } } }),
  get: routeDoc({ summary: 'Fetch a video', params: s.videoParams, responses: { 200: { description: 'The video.', example: video }, 404: notFound } }),
  delete: routeDoc({ summary: 'Delete a video', description: 'An unfinished video is canceled; the upstream is asked to delete its copy.', params: s.videoParams, responses: { 200: { description: 'Deleted.', example: { id: ID, object: 'video.deleted', deleted: true } }, 404: notFound } }),
  content: routeDoc({
    summary: 'Download video content',
    description: 'The bytes of a completed video (or its thumbnail or spritesheet), streamed from the upstream.',
    params: s.videoParams,
    querystring: s.contentQuery,
    responses: { 200: { description: 'The file (video/mp4, image/webp, image/jpeg).' }, 404: notFound },
  }),
  remix: routeDoc({ summary: 'Remix a video', params: s.videoParams, body: s.remixBody, example: { prompt: 'the same boat, at night' }, responses: { 200: { description: 'Accepted: the remix, queued.', example: { ...queued, id: 'video_Q2hLm0vT9cXw1RzKa8bN', remixed_from_video_id: ID } }, 404: notFound } }),
};

