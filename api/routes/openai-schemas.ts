import { z } from 'zod';

/**
 * OpenAI request bodies, checked with the upstream's own field names: types, required fields,
 * ranges and the enums the API fixes. Unknown fields pass (new upstream parameters keep working);
 * the original bytes are what is forwarded.
 */

const msg = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : `must be ${what}`),
});

const model = z.string(msg('a string')).min(1, 'must not be empty');
const num = (min: number, max: number) => z.number(msg('a number')).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const posInt = (max: number) => z.number(msg('an integer')).int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);
const stop = z.union([z.string(), z.array(z.string()).max(4, 'must hold at most 4 sequences')], msg('a string or an array of strings')).nullish();

const sampling = {
  temperature: num(0, 2).nullish(),
  top_p: num(0, 1).nullish(),
  n: posInt(128).nullish(),
  stream: z.boolean(msg('a boolean')).nullish(),
  stop,
  presence_penalty: num(-2, 2).nullish(),
  frequency_penalty: num(-2, 2).nullish(),
  max_tokens: posInt(1_000_000).nullish(),
  user: z.string(msg('a string')).optional(),
  seed: z.number(msg('an integer')).int('must be an integer').nullish(),
};

const role = z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function'], { error: 'must be one of system, developer, user, assistant, tool, function' });

export const chatBody = z.looseObject({
  model,
  messages: z
    .array(
      z.looseObject({
        role,
        content: z.union([z.string(), z.array(z.looseObject({ type: z.string(msg('a string')) }))], msg('a string or an array of content parts')).nullish(),
      }),
      msg('an array of messages'),
    )
    .min(1, 'must hold at least one message'),
  max_completion_tokens: posInt(1_000_000).nullish(),
  response_format: z.looseObject({ type: z.enum(['text', 'json_object', 'json_schema'], { error: 'must be text, json_object or json_schema' }) }).nullish(),
  tools: z.array(z.looseObject({ type: z.string(msg('a string')) }), msg('an array of tools')).nullish(),
  ...sampling,
});

const tokens = z.array(z.number().int()).min(1);
export const completionBody = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokens, z.array(tokens).min(1)], msg('a string, an array of strings or token arrays')),
  echo: z.boolean(msg('a boolean')).nullish(),
  best_of: posInt(20).nullish(),
  suffix: z.string(msg('a string')).nullish(),
  ...sampling,
});

export const embeddingBody = z.looseObject({
  model,
  input: z.union([z.string().min(1, 'must not be empty'), z.array(z.string()).min(1).max(2048), tokens, z.array(tokens).min(1)], msg('a string, an array of strings or token arrays')),
  encoding_format: z.enum(['float', 'base64'], { error: 'must be float or base64' }).optional(),
  dimensions: posInt(65536).optional(),
  user: z.string(msg('a string')).optional(),
});

const imageCommon = {
  model: model.optional(),
  n: posInt(10).nullish(),
  size: z.string(msg('a string')).regex(/^(auto|\d{2,5}x\d{2,5})$/, 'must be auto or WIDTHxHEIGHT').nullish(),
  response_format: z.enum(['url', 'b64_json'], { error: 'must be url or b64_json' }).nullish(),
  user: z.string(msg('a string')).optional(),
};

export const imageGenerationBody = z.looseObject({
  prompt: z.string(msg('a string')).trim().min(1, 'must not be blank').max(32000, 'must be at most 32000 characters'),
  quality: z.string(msg('a string')).nullish(),
  style: z.enum(['vivid', 'natural'], { error: 'must be vivid or natural' }).nullish(),
  ...imageCommon,
});

/** Multipart fields arrive as strings; numbers are read as the upstream would. */
const formInt = (max: number) => z.coerce.number(msg('an integer')).int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

export const imageEditForm = z.looseObject({
  prompt: z.string(msg('a string')).trim().min(1, 'must not be blank').max(32000, 'must be at most 32000 characters'),
  model: model.optional(),
  n: formInt(10).optional(),
  size: imageCommon.size,
  response_format: imageCommon.response_format,
});

export const speechBody = z.looseObject({
  model,
  input: z.string(msg('a string')).min(1, 'must not be empty').max(4096, 'must be at most 4096 characters'),
  voice: z.string(msg('a string')).min(1, 'must not be empty'),
  response_format: z.enum(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'], { error: 'must be one of mp3, opus, aac, flac, wav, pcm' }).optional(),
  speed: num(0.25, 4).optional(),
  instructions: z.string(msg('a string')).optional(),
});

export const transcriptionForm = z.looseObject({
  model,
  language: z.string(msg('a string')).regex(/^[a-z]{2,3}$/, 'must be an ISO-639-1 code such as en').optional(),
  prompt: z.string(msg('a string')).optional(),
  response_format: z.enum(['json', 'text', 'srt', 'verbose_json', 'vtt'], { error: 'must be one of json, text, srt, verbose_json, vtt' }).optional(),
  temperature: z.coerce.number(msg('a number')).min(0, 'must be at least 0').max(1, 'must be at most 1').optional(),
});

export const translationForm = transcriptionForm.omit({ language: true });

/** The file fields each multipart route needs (required) and accepts. */
export const FORM_FILES = {
  'images/edits': { required: ['image'], optional: ['mask', 'image[]'] },
  'audio/transcriptions': { required: ['file'], optional: [] },
  'audio/translations': { required: ['file'], optional: [] },
} as const;
