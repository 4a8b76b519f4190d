import { z } from 'zod';
import { routeDoc } from '../../openapi.js';
import * as s from './schemas.js';

const TASK = 'text_6A3ZVeYGp13fEHJkFtsB';
const invalid = { description: 'Refused, naming the field.', example: { error: { message: 'model: is required', type: 'invalid_request_error', param: 'model', code: 'invalid_request_error' } } };
const accepted = {
  description: 'With `Prefer: respond-async` (or a wait that ran out): the task, to poll at `urls.get`.',
  example: { id: TASK, object: 'task', kind: 'chat.completion', status: 'queued', progress: 0, queue_position: 0, created_at: 1796042759106, started_at: null, completed_at: null, attempts: 0, output: null, error: null, metadata: {}, urls: { get: `https://relay.example.com/v1/tasks/${TASK}` } },
};
const CALL =
  'Runs as a task. A plain call waits for the answer (up to SYNC_WAIT_SECONDS) and answers as the upstream did; `Prefer: respond-async` answers 202 with the task at once, `Prefer: wait=<s>` waits that long. `X-Webhook-Url` posts the task\'s changes; `Idempotency-Key` makes retries safe.';

/** A file part of a multipart form, as OpenAPI writes binary content. */
const file = z.string().meta({ format: 'binary', description: 'the file' });

const call = (summary: string, body: z.ZodType, example: unknown, answer: unknown, extra: { consumes?: string[] } = {}) =>
  routeDoc({ summary, description: CALL, body, example, ...extra, responses: { 200: { description: 'The upstream\'s answer.', example: answer }, 202: accepted, 400: invalid, 429: { description: 'Over the tenant\'s rate or the queue\'s depth (Retry-After).' } } });

/** The OpenAPI documentation of the OpenAI-compatible routes. */
export const docs = {
  'chat/completions': call(
    'Chat completion',
    s.chatBody,
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] },
    { id: 'chatcmpl-2d8ec661', object: 'chat.completion', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } },
  ),
  completions: call('Text completion', s.completionBody, { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time' }, { id: 'cmpl-c03fb4ad', object: 'text_completion', created: 1700000000, model: 'gpt-3.5-turbo-instruct', choices: [{ index: 0, text: ' there was a fox.', finish_reason: 'stop' }] }),
  embeddings: call('Embeddings', s.embeddingBody, { model: 'text-embedding-3-small', input: 'hello' }, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [-0.29, 0.3, -0.23] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 1, total_tokens: 1 } }),
  'images/generations': call('Image generation', s.imageGenerationBody, { model: 'dall-e-3', prompt: 'a lighthouse at dusk', size: '1024x1024' }, { created: 1700000000, data: [{ url: 'https://cdn.example.com/lighthouse.png', revised_prompt: 'a lighthouse at dusk' }] }),
  'audio/speech': call('Text to speech', s.speechBody, { model: 'tts-1', input: 'Hello there', voice: 'alloy' }, undefined),
  'images/edits': call('Image edit (multipart)', s.imageEditForm.extend({ image: file, mask: file.optional() }), { model: 'gpt-image-1', prompt: 'add a red scarf', image: '(file: cat.png)' }, { created: 1700000000, data: [{ url: 'https://cdn.example.com/edit.png' }] }, { consumes: ['multipart/form-data'] }),
  'images/variations': call('Image variation (multipart)', s.imageVariationForm.extend({ image: file }), { model: 'dall-e-2', n: '2', image: '(file: cat.png)' }, { created: 1700000000, data: [{ url: 'https://cdn.example.com/variation.png' }] }, { consumes: ['multipart/form-data'] }),
  'audio/transcriptions': call('Transcription (multipart)', s.transcriptionForm.extend({ file }), { model: 'whisper-1', file: '(file: hello.mp3)' }, { text: 'Hello there' }, { consumes: ['multipart/form-data'] }),
  'audio/translations': call('Translation (multipart)', s.translationForm.extend({ file }), { model: 'whisper-1', file: '(file: bonjour.mp3)' }, { text: 'Hello there' }, { consumes: ['multipart/form-data'] }),
  models: routeDoc({
    summary: 'Models',
    description: 'The channels\' merged model list (cached five minutes).',
    responses: { 200: { description: 'The models.', example: { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 1700000000, owned_by: 'openai' }] } }, 502: { description: 'No upstream model list is available.' } },
  }),
  model: routeDoc({
    summary: 'One model',
    description: 'Ids may hold slashes (`org/model`).',
    params: z.object({ '*': z.string().meta({ description: 'the model id' }) }),
    responses: { 200: { description: 'The model.', example: { id: 'gpt-4o-mini', object: 'model', created: 1700000000, owned_by: 'openai' } }, 404: { description: 'No such model (code model_not_found).' } },
  }),
};
