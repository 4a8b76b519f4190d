import { z } from 'zod';
import { isHttpUrl } from '../../http-url.js';

/**
 * Request bodies of the Suno routes, read the way suno-api (Suno-API/Suno-API `model.go`) and
 * new-api (`dto.SunoSubmitReq`) read them, a little more leniently where clients differ:
 * - fields relayq does not know are kept and forwarded (the upstream is the authority on its API);
 * - a blank optional field (`""`, white space, `null`) means "not given", as suno-api reads
 *   `continue_clip_id: ""`;
 * - `make_instrumental` may come as `"true"`/`"false"` and `continue_at` as a numeric string
 *   (forms some relays accept); they are forwarded as a boolean and a number, the types suno-api
 *   decodes, which would refuse the strings;
 * - a wrong type or a missing required field is refused, naming the field.
 */

const req = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined || iss.input === null ? 'is required' : `must be ${what}`),
});

const isBlank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** An optional field whose blank values mean "not given". */
const opt = <T extends z.ZodType>(t: T) => z.preprocess((v) => (isBlank(v) ? undefined : v), t.optional());

const text = (max: number) => z.string(req('a string')).max(max, `must be at most ${max} characters`);
const id = z.union([z.string().trim().max(200, 'must be at most 200 characters'), z.number().int().nonnegative().transform(String)], req('a string'));

const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], req('true or false'));

/** Seconds into the clip where an extension starts: a number, or a numeric string. */
const seconds = z
  .union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*$/).transform(Number)], req('a number of seconds'))
  .pipe(z.number().min(0, 'must be 0 or more').finite());

const httpUrl = z.string(req('a string')).trim().refine(isHttpUrl, 'must be an http(s) URL of at most 2000 characters');

/** The body must be an object; anything else is refused naming `body`. */
const object = { error: 'must be a JSON object' };

/**
 * `POST /suno/submit/music`: custom mode (`prompt` = lyrics, `title`, `tags`), description mode
 * (`gpt_description_prompt`), or an extend (`continue_clip_id` with `task_id`, the relayq id of
 * the task that made the clip, and `continue_at`). At least one of them must say what to make.
 */
export const musicBody = z
  .looseObject(
    {
      prompt: opt(text(20_000)),
      gpt_description_prompt: opt(text(5_000)),
      mv: opt(text(100)),
      title: opt(text(1_000)),
      tags: opt(text(2_000)),
      make_instrumental: opt(bool),
      continue_clip_id: opt(id),
      continue_at: opt(seconds),
      task_id: opt(id),
      notify_hook: opt(httpUrl),
    },
    object,
  )
  .superRefine((b, ctx) => {
    if (b.continue_clip_id && !b.task_id) {
      ctx.addIssue({ code: 'custom', path: ['task_id'], message: 'is required with continue_clip_id (the id of the task that made the clip)' });
    }
    if (!b.prompt && !b.gpt_description_prompt && !b.tags && !b.title && !b.continue_clip_id) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'is required (the lyrics; or gpt_description_prompt to describe the song, or tags)' });
    }
  });
export type MusicBody = z.infer<typeof musicBody>;

/** `POST /suno/submit/lyrics`: `prompt` is required (suno-api: "prompt is empty"; new-api: `prompt_empty`). */
export const lyricsBody = z.looseObject(
  {
    prompt: z.string(req('a string')).trim().min(1, 'must not be blank').max(5_000, 'must be at most 5000 characters'),
    notify_hook: opt(httpUrl),
  },
  object,
);

/** `POST /suno/fetch`: `{ids: [...]}` (numbers read as text); new-api's `action` is accepted and ignored. */
export const fetchBody = z.looseObject(
  {
    ids: z
      .array(z.union([z.string(), z.number().transform(String)], { error: 'must hold task ids (strings)' }), req('an array of task ids'))
      .max(1000, 'must hold at most 1000 ids'),
  },
  object,
);

export const idParams = z.object({ id: z.string().max(200, 'is not a task id') });
