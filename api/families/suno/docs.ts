import { z } from 'zod';
import { routeDoc } from '../../openapi.js';
import * as s from './schemas.js';

const ID = 'suno_U7xVnzh1hyJJeCpKeSbo';
const clip = {
  id: '748a85af-5846-472d-9c18-5a58bce974a6',
  title: 'Song of the Sea',
  status: 'complete',
  audio_url: 'https://cdn.example.com/748a85af.mp3',
  image_url: 'https://cdn.example.com/748a85af.jpeg',
  model_name: 'chirp-v3',
  metadata: { tags: 'upbeat pop', gpt_description_prompt: 'an upbeat song about the sea', duration: 151.42 },
};
const task = { task_id: ID, action: 'MUSIC', status: 'SUCCESS', fail_reason: '', submit_time: 1796042759, start_time: 1796042759, finish_time: 1796042767, progress: '100%', platform: 'suno', data: [clip] };

/** The OpenAPI documentation of the Suno routes (suno-api's envelope `{code, message, data}`). */
export const docs = {
  submit: routeDoc({
    summary: 'Submit music or lyrics',
    description:
      '`music`: custom mode (`prompt` = lyrics, `title`, `tags`), description mode (`gpt_description_prompt`), or an extend (`continue_clip_id`, `task_id`, `continue_at`). `lyrics`: `prompt`. Fields relayq does not know are forwarded. `data` of the answer is the task id.',
    params: z.object({ action: z.enum(['music', 'lyrics']).meta({ description: 'any case' }) }),
    body: z.union([s.musicBody, s.lyricsBody]),
    example: { gpt_description_prompt: 'an upbeat song about the sea', mv: 'chirp-v3-5', make_instrumental: false },
    responses: { 200: { description: 'Accepted.', example: { code: 'success', message: '', data: ID } }, 400: { description: 'Refused, naming the field.', example: { code: 'error', message: 'prompt: is required', data: null } } },
  }),
  fetchOne: routeDoc({ summary: 'Fetch a task', params: s.idParams, responses: { 200: { description: 'The task.', example: { code: 'success', message: '', data: task } }, 404: { description: 'No such task for this key.' } } }),
  fetchMany: routeDoc({ summary: 'Fetch tasks by id', body: s.fetchBody, example: { ids: [ID] }, responses: { 200: { description: 'The tasks found.', example: { code: 'success', message: '', data: [task] } } } }),
};
