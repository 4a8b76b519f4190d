import { defineFamily } from '../types.js';
import { ENDPOINTS } from './endpoints.js';
import { audioRequest, imageRequest, openaiModels, textRequest } from './jobs.js';
import { OPENAI_KINDS, type OpenAiKind, type OpenAiTask } from './task.js';

const queueOfKind = new Map<OpenAiKind, string>(Object.values(ENDPOINTS).map((e) => [e.kind, e.queue]));

/**
 * OpenAI-compatible calls (chat and text completions, embeddings, images, audio) kept as tasks on
 * the queue of their workload and answered as the upstream answered.
 */
export const openaiFamily = defineFamily<OpenAiTask>()({
  name: 'openai',
  channelType: 'openai',
  kinds: OPENAI_KINDS,
  queues: [
    { name: 'image', concurrency: (config) => config.IMAGE_CONCURRENCY },
    { name: 'audio', concurrency: (config) => config.AUDIO_CONCURRENCY },
    { name: 'text', concurrency: (config) => config.TEXT_CONCURRENCY },
  ],
  queueOf: (kind) => queueOfKind.get(kind) ?? 'text',
  jobs: { [textRequest.name]: textRequest, [imageRequest.name]: imageRequest, [audioRequest.name]: audioRequest, [openaiModels.name]: openaiModels },
  output: (task) => task.output ?? null,
});
