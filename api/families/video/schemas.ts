import { z } from 'zod';

/**
 * Request shapes of the OpenAI Videos API (openai-node `resources/videos.ts`), checked for what
 * relayq needs (`model` for routing, the prompt, the id of a video) and for what is clearly broken
 * (a field of the wrong type). Values are the upstream's business: new models bring new sizes
 * and lengths, so `seconds` and `size` are not held to today's lists. Unknown fields pass; the
 * original bytes are what is forwarded.
 */

const msg = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : `must be ${what}`),
});
const str = z.string(msg('a string'));
const prompt = str.trim().min(1, 'must not be blank');

/**
 * `seconds` is text in the API (`"8"`); a number is accepted too and forwarded as that text
 * (textFieldsOf), since OpenAI refuses `"seconds": 8` as the wrong type.
 */
const seconds = z.union([str.min(1, 'must not be empty'), z.number().int().positive()], msg('a number of seconds, such as "8"'));

/** `POST /v1/videos` as JSON. `input_reference` is an image URL or data URL, or `{file_id?, image_url?}`. */
export const createBody = z.looseObject({
  prompt,
  model: str.min(1, 'must not be empty').nullish(),
  seconds: seconds.nullish(),
  size: str.min(1, 'must not be empty').nullish(),
  input_reference: z.union([str.min(1, 'must not be empty'), z.looseObject({ file_id: str.nullish(), image_url: str.nullish() })], msg('an image URL or an object with file_id or image_url')).nullish(),
});

/** `POST /v1/videos` as multipart: plain fields arrive as text (files are checked by readVideoForm). */
export const createForm = z.looseObject({
  prompt,
  model: str.min(1, 'must not be empty').optional(),
  seconds: str.min(1, 'must not be empty').optional(),
  size: str.min(1, 'must not be empty').optional(),
});

/** `POST /v1/videos/{video_id}/remix`, JSON or multipart. */
export const remixBody = z.looseObject({ prompt });

export const videoParams = z.object({ video_id: str.min(1, 'must not be empty') });

export const VARIANTS = ['video', 'thumbnail', 'spritesheet'] as const;

export const contentQuery = z.object({
  variant: z.enum(VARIANTS, { error: `must be one of ${VARIANTS.join(', ')}` }).default('video'),
});

export const listQuery = z.object({
  after: str.min(1, 'must not be empty').max(64, 'is not a video id').optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
  order: z.enum(['asc', 'desc'], { error: 'must be asc or desc' }).default('desc'),
});

/** Fields the API types as text that JSON clients also send as numbers. */
const TEXT_FIELDS = ['seconds'] as const;

/**
 * The JSON body to forward: `raw` as it came, unless a field the API types as text
 * (TEXT_FIELDS) came as a number; then `body` again with those fields as text (`8` → `"8"`),
 * every other field and the field order kept.
 */
export function textFieldsOf(body: unknown, raw: Buffer): Buffer {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return raw;
  const fields = body as Record<string, unknown>;
  const numeric = TEXT_FIELDS.filter((name) => typeof fields[name] === 'number');
  if (numeric.length === 0) return raw;
  const fixed = { ...fields };
  for (const name of numeric) fixed[name] = String(fields[name]);
  return Buffer.from(JSON.stringify(fixed));
}
