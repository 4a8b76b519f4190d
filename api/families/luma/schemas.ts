import { z } from 'zod';
import { parseImageInput, toUpstreamImage } from '../../../shared/dataurl.js';
import { isHttpUrl } from '../../http-url.js';

/**
 * Request bodies of the Luma-API routes (LumaAI-API/Luma-API `GenRequest`, and the fields hosted
 * relays document), read the way clients really send them:
 * - `user_prompt` (Luma-API) or `prompt` (the official Dream Machine name) for the prompt;
 * - a blank optional field (`""`, `null`) means "not given" — clients send `"image_url": ""`;
 * - booleans may come as `"true"`/`"false"` and go upstream as booleans (Luma-API's Go server
 *   refuses a string there);
 * - `image_url`/`image_end_url` are http(s) URLs, data URLs or bare base64 (Luma-API uploads any
 *   of them); bytes go upstream as a canonical `data:<type>;base64,…` data URL, which is the only
 *   form Luma-API decodes;
 * - fields relayq does not know (`loop`, `model_name`, `resolution`, `duration`, …) go upstream
 *   unchanged, for the vendors that read them; `notify_hook` stays with relayq (a webhook).
 */

const isBlank = (v: unknown) => v === null || (typeof v === 'string' && v.trim() === '');
/** An optional field whose blank values mean "not given". */
const opt = <T extends z.ZodType>(t: T) => z.preprocess((v) => (isBlank(v) ? undefined : v), t.optional());
const must = (what: string) => ({ error: () => `must be ${what}` });

const text = (max: number) => z.string(must('a string')).max(max, `must be at most ${max} characters`);

const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean(must('true or false')));

const image = z.string(must('a string')).transform((s, ctx): string => {
  const r = parseImageInput(s);
  if (r.ok) return toUpstreamImage(r.blob);
  ctx.addIssue({ code: 'custom', message: r.reason });
  return z.NEVER;
});

const httpUrl = z.string(must('a string')).trim().refine(isHttpUrl, 'must be an http(s) URL of at most 2000 characters');

/** A generation (or extension) request: the prompt and frames; everything else is optional. */
export const generationBody = z.looseObject(
  {
    user_prompt: opt(text(10_000)),
    prompt: opt(text(10_000)),
    aspect_ratio: opt(z.string(must('a string')).trim().regex(/^\d{1,3}:\d{1,3}$/, 'must be a ratio such as 16:9')),
    expand_prompt: opt(bool),
    loop: opt(bool),
    image_url: opt(image),
    image_end_url: opt(image),
    model_name: opt(text(100)),
    notify_hook: opt(httpUrl),
  },
  must('a JSON object'),
);

export type GenerationBody = z.infer<typeof generationBody>;

/** The generation named in the path (`/luma/generations/{task_id}`); an id that is not one of relayq's names none (404). */
export const taskIdParams = z.object({ task_id: z.string().min(1, 'is required') });
