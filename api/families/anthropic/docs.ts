import { routeDoc } from '../../openapi.js';
import { countTokensBody, messageBody } from './schemas.js';

/** The OpenAPI documentation of the Anthropic Messages route. */
export const docs = {
  messages: routeDoc({
    summary: 'Create a message',
    description:
      'Anthropic Messages API, relayed as a task: a plain call waits for the answer (`stream: true` streams it as Anthropic\'s server-sent events); `Prefer: respond-async` answers 202 with the task. `anthropic-version` and `anthropic-beta` are forwarded.',
    body: messageBody,
    example: { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Hello' }] },
    responses: {
      200: {
        description: 'The message.',
        example: { id: 'msg_57bc726b', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'Hello!' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 2 } },
      },
      400: { description: 'Refused, in Anthropic\'s error format.', example: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } } },
    },
  }),
  countTokens: routeDoc({
    summary: 'Count the tokens of a message',
    description:
      'Anthropic\'s token count, asked of the highest-priority anthropic channel serving `model` at once (no task). `anthropic-version` and `anthropic-beta` are forwarded; 404 when no channel serves the model.',
    body: countTokensBody,
    example: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello' }] },
    responses: {
      200: { description: 'The count.', example: { input_tokens: 9 } },
      404: { description: 'No channel serves the model.', example: { type: 'error', error: { type: 'not_found_error', message: 'no channel counts tokens for model claude-x' } } },
    },
  }),
};
