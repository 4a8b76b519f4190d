import { defineFamily } from '../types.js';
import { anthropicRequest } from './jobs.js';
import { ANTHROPIC_KINDS, type AnthropicTask } from './task.js';

/**
 * Anthropic Messages (`POST /v1/messages`, stream and not): each call a task on its own queue,
 * relayed to Anthropic-compatible channels and answered as the upstream answered. The generic
 * view's `output` is the Message object.
 */
export const anthropicFamily = defineFamily<AnthropicTask>()({
  name: 'anthropic',
  channelType: 'anthropic',
  kinds: ANTHROPIC_KINDS,
  // Text generation: the same per-process concurrency as the OpenAI text queue.
  queues: [{ name: 'anthropic', concurrency: (config) => config.TEXT_CONCURRENCY }],
  queueOf: () => 'anthropic',
  jobs: { [anthropicRequest.name]: anthropicRequest },
  output: (task) => task.output ?? null,
});
