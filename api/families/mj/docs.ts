import { routeDoc } from '../../openapi.js';
import * as s from './schemas.js';

const ID = 'mj_EXW64SXxUL2Z1senlA70';
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const submitted = { code: 1, description: 'Submit success', result: ID, properties: {} };
const refused = { code: 4, description: 'prompt: must not be blank', result: null, properties: {} };
const button = (customId: string, label: string) => ({ customId, emoji: '', label, type: 2, style: 2 });
const task = {
  id: ID,
  action: 'IMAGINE',
  status: 'SUCCESS',
  prompt: 'a red fox in the snow --ar 16:9',
  promptEn: 'a red fox in the snow --ar 16:9',
  description: '/imagine a red fox in the snow --ar 16:9',
  state: null,
  botType: 'MID_JOURNEY',
  submitTime: 1796042758406,
  startTime: 1796042758481,
  finishTime: 1796042758890,
  imageUrl: 'https://cdn.example.com/5573abb4.png',
  progress: '100%',
  failReason: null,
  properties: { finalPrompt: 'a red fox in the snow --ar 16:9' },
  buttons: [button('MJ::JOB::upsample::1::5573abb4', 'U1'), button('MJ::JOB::variation::1::5573abb4', 'V1')],
};

/** Answers of a submit: accepted (code 1, or 22 when queued behind others), refused (code 4, 24 banned, 23 busy). */
const submitAnswers = {
  200: { description: 'Accepted: `result` is the task id (code 1; 22 "In queue" with the tasks ahead).', example: submitted },
  400: { description: 'Refused (code 4 names the field; 24 a banned prompt).', example: refused },
  429: { description: 'The queue is full or the tenant over its rate (code 23).' },
};

const fetched = { 200: { description: 'The task, as midjourney-proxy shows it.', example: task }, 404: { description: 'No such task for this key (code 3).' } };

/** The OpenAPI documentation of the Midjourney-proxy routes (same under /mj, /mj-fast/mj, /mj-relax/mj, /mj-turbo/mj). */
export const docs = {
  imagine: routeDoc({ summary: 'Imagine', description: 'Starts a /imagine; `base64Array` adds image prompts.', body: s.imagineBody, example: { prompt: 'a red fox in the snow --ar 16:9', notifyHook: 'https://example.com/hooks/mj', state: 'order-42' }, responses: submitAnswers }),
  blend: routeDoc({ summary: 'Blend', description: 'Blends 2 to 5 images.', body: s.blendBody, example: { base64Array: [PNG, PNG], dimensions: 'SQUARE' }, responses: submitAnswers }),
  describe: routeDoc({ summary: 'Describe', description: 'Four prompts for an image (`base64`, or `link`).', body: s.describeBody, example: { base64: PNG }, responses: submitAnswers }),
  shorten: routeDoc({ summary: 'Shorten', body: s.shortenBody, example: { prompt: 'a very detailed photograph of a red fox standing in deep fresh snow' }, responses: submitAnswers }),
  swap: routeDoc({ summary: 'Face swap', description: 'Puts the source face on the target image.', body: s.swapBody, example: { sourceBase64: PNG, targetUrl: 'https://example.com/target.png' }, responses: submitAnswers }),
  action: routeDoc({
    summary: 'Action (button)',
    description: 'Presses a button of a finished task (upscale, variation, reroll, zoom, pan…). Buttons that need a prompt or a mask answer code 21 and wait for /submit/modal.',
    body: s.actionBody,
    example: { taskId: ID, customId: 'MJ::JOB::upsample::1::5573abb4' },
    responses: { ...submitAnswers, 200: { description: 'Accepted (code 1), or waiting for the modal step (code 21).', example: { ...submitted, result: 'mj_HFCnNoF4GpQK5OXmaSsX' } } },
  }),
  modal: routeDoc({ summary: 'Modal', description: 'The prompt (and mask for Vary Region) of an action waiting in MODAL.', body: s.modalBody, example: { taskId: 'mj_HFCnNoF4GpQK5OXmaSsX', prompt: 'a red fox in the snow, golden hour' }, responses: submitAnswers }),
  fetch: routeDoc({ summary: 'Fetch a task', params: s.taskIdParams, responses: fetched }),
  listByCondition: routeDoc({ summary: 'Fetch tasks by id', description: 'Unknown ids, and other tenants\' tasks, are left out.', body: s.listByConditionBody, example: { ids: [ID] }, responses: { 200: { description: 'The tasks found.', example: [task] } } }),
  list: routeDoc({ summary: 'Recent tasks', description: 'The 100 most recent MJ tasks of this key\'s tenant.', responses: { 200: { description: 'Tasks, newest first.', example: [task] } } }),
  queue: routeDoc({ summary: 'Unfinished tasks', description: 'This tenant\'s queued and running MJ tasks, oldest first.', responses: { 200: { description: 'Tasks.', example: [{ ...task, status: 'IN_PROGRESS', progress: '40%', imageUrl: null, finishTime: null, buttons: [] }] } } }),
  cancel: routeDoc({ summary: 'Cancel a task', params: s.taskIdParams, responses: { 200: { description: 'Canceled.', example: { code: 1, description: 'canceled', result: ID, properties: {} } }, 404: fetched[404] } }),
  imageSeed: routeDoc({
    summary: 'Image seed',
    description: 'The seed of a finished image, asked of the upstream on first request.',
    params: s.taskIdParams,
    responses: { 200: { description: 'The seed.', example: { code: 1, description: 'Success', result: '3761512937', properties: {} } }, 504: { description: 'The upstream did not answer in 30 s.' } },
  }),
};
