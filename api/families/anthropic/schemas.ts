import { z } from 'zod';

/**
 * The body of `POST /v1/messages`, checked for what relayq needs (`model` for routing, `stream`)
 * and for what is clearly broken: a required field missing (`model`, `max_tokens`, `messages`),
 * a value of the wrong type. Everything else — roles, block types, tool definitions, thinking
 * settings, beta fields — is the upstream's to judge: unknown fields pass and the original bytes
 * are forwarded. Field names and types follow `MessageCreateParams` of @anthropic-ai/sdk; the
 * messages are worded as Anthropic's own validation words them (`max_tokens: Field required`).
 */

const msg = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? 'Field required' : `Input should be ${what}`),
});

const str = z.string(msg('a valid string'));
const num = z.number(msg('a valid number'));
const int = z.number(msg('a valid integer')).int('Input should be a valid integer');
const bool = z.boolean(msg('a valid boolean'));
const object = (what = 'a valid dictionary') => z.looseObject({}, msg(what));
const block = z.looseObject({ type: str.min(1, 'String should have at least 1 character') }, msg('a valid dictionary'));

const content = z.union([str, z.array(block, msg('a valid list'))], msg('a string or a list of content blocks'));

export const messageBody = z.looseObject(
  {
    model: str.min(1, 'String should have at least 1 character'),
    max_tokens: int.min(1, 'Input should be greater than or equal to 1'),
    messages: z
      .array(z.looseObject({ role: str.min(1, 'String should have at least 1 character'), content }, msg('a valid dictionary')), msg('a valid list'))
      .min(1, 'at least one message is required'),
    system: z.union([str, z.array(block, msg('a valid list'))], msg('a string or a list of text blocks')).nullish(),
    stream: bool.nullish(),
    temperature: num.nullish(),
    top_p: num.nullish(),
    top_k: int.nullish(),
    stop_sequences: z.array(str, msg('a valid list')).nullish(),
    tools: z.array(object(), msg('a valid list')).nullish(),
    tool_choice: object().nullish(),
    thinking: object().nullish(),
    metadata: object().nullish(),
  },
  msg('a valid dictionary'),
);

export type MessageBody = z.infer<typeof messageBody>;

/**
 * The body of `POST /v1/messages/count_tokens` (`MessageCountTokensParams`): a Messages body
 * without `max_tokens`, checked only for `model` (routing) and `messages`.
 */
export const countTokensBody = z.looseObject(
  {
    model: str.min(1, 'String should have at least 1 character'),
    messages: z.array(z.looseObject({ role: str.min(1, 'String should have at least 1 character'), content }, msg('a valid dictionary')), msg('a valid list')),
  },
  msg('a valid dictionary'),
);
