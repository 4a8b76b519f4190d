import { z } from 'zod';
import type { FormFiles } from './form.js';

/**
 * OpenAI request bodies, checked with the upstream's own field names for what relayq needs
 * (`model` for routing, `stream`) and for what is clearly broken (a required field missing, a
 * value of the wrong type: messages that are not an array, a temperature that is not a number).
 * Ranges and enum values are the upstream's business: new models bring new sizes, qualities,
 * voices, formats and limits (`size: "1536x1024"`, `quality: "high"`, `voice: {"id": …}`,
 * `response_format: "diarized_json"`, `encoding_format: "int8"` on other providers), so relayq
 * checks none of them. Unknown fields pass; the original bytes are what is forwarded.
 * Types follow the `openai` package (resources/chat, completions, embeddings, images, audio).
 */

const msg = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : `must be ${what}`),
});

const model = z.string(msg('a string')).min(1, 'must not be empty');
const str = z.string(msg('a string'));
const num = z.number(msg('a number'));
const int = z.number(msg('an integer')).int('must be an integer');
const bool = z.boolean(msg('a boolean'));
const object = (what: string) => z.looseObject({}, msg(what));

const sampling = {
  temperature: num.nullish(),
  top_p: num.nullish(),
  n: int.nullish(),
  stream: bool.nullish(),
  stop: z.union([str, z.array(str)], msg('a string or an array of strings')).nullish(),
  presence_penalty: num.nullish(),
  frequency_penalty: num.nullish(),
  max_tokens: int.nullish(),
  user: str.optional(),
  seed: int.nullish(),
};

export const chatBody = z.looseObject({
  model,
  messages: z
    .array(
      z.looseObject(
        {
          role: str.min(1, 'must not be empty'),
          content: z.union([str, z.array(object('a content part object'))], msg('a string or an array of content parts')).nullish(),
        },
        msg('a message object'),
      ),
      msg('an array of messages'),
    )
    .min(1, 'must hold at least one message'),
  max_completion_tokens: int.nullish(),
  response_format: z.looseObject({ type: str }, msg('an object with a type')).nullish(),
  tools: z.array(z.looseObject({ type: str }, msg('a tool object')), msg('an array of tools')).nullish(),
  ...sampling,
});

const tokens = z.array(z.number().int());
export const completionBody = z.looseObject({
  model,
  prompt: z.union([str, z.array(str), tokens, z.array(tokens)], msg('a string, an array of strings or token arrays')).nullable(),
  echo: bool.nullish(),
  best_of: int.nullish(),
  suffix: str.nullish(),
  ...sampling,
});

export const embeddingBody = z.looseObject({
  model,
  // Arrays may also hold objects: multimodal embedding inputs that gateways relay (`{ "type": "image_url", … }`).
  input: z.union([str.min(1, 'must not be empty'), z.array(z.union([str, z.number(), tokens, z.looseObject({})])).min(1, 'must not be empty')], msg('a string or an array of inputs')),
  encoding_format: str.optional(),
  dimensions: int.optional(),
  user: str.optional(),
});

const prompt = str.trim().min(1, 'must not be blank');

export const imageGenerationBody = z.looseObject({
  prompt,
  model: model.nullish(),
  n: int.nullish(),
  size: str.nullish(),
  quality: str.nullish(),
  style: str.nullish(),
  response_format: str.nullish(),
  stream: bool.nullish(),
  user: str.optional(),
});

export const speechBody = z.looseObject({
  model,
  input: str.min(1, 'must not be empty'),
  voice: z.union([str.min(1, 'must not be empty'), z.looseObject({ id: str.min(1, 'must not be empty') })], msg('a voice name or an object with an id')),
  response_format: str.optional(),
  speed: num.optional(),
  instructions: str.optional(),
  stream_format: str.optional(),
});

/** Multipart fields arrive as strings (blank ones mean not given); numbers are read as the upstream would. */
const formNumber = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.coerce.number(msg('a number')).pipe(schema).optional());

export const imageEditForm = z.looseObject({
  prompt,
  model: model.optional(),
  n: formNumber(int),
  size: str.optional(),
  response_format: str.optional(),
});

/** `POST /v1/images/variations` (multipart): the image file is checked by readForm; no prompt. */
export const imageVariationForm = z.looseObject({
  model: model.optional(),
  n: formNumber(int),
  size: str.optional(),
  response_format: str.optional(),
  user: str.optional(),
});

export const transcriptionForm = z.looseObject({
  model,
  language: str.optional(),
  prompt: str.optional(),
  response_format: str.optional(),
  temperature: formNumber(num),
});

export const translationForm = transcriptionForm.omit({ language: true });

/** The file each multipart route needs; any other file part is forwarded as it came. */
export const FORM_FILES = {
  'images/edits': { required: ['image', 'image[]'] },
  'images/variations': { required: ['image'] },
  'audio/transcriptions': { required: ['file'] },
  'audio/translations': { required: ['file'] },
} as const satisfies Record<string, FormFiles>;
