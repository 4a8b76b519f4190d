import { z } from 'zod';
import { parseImageInput } from '../../../shared/dataurl.js';
import type { MjRequest } from '../../../shared/families/mj/task.js';
import type { Blob } from '../../../shared/tasks/store.js';
import { isHttpUrl } from '../../http-url.js';

/**
 * Request bodies of the Midjourney-proxy routes (docs/midjourney.md, "Submit routes"), read the way
 * midjourney-proxy servers read them:
 * - fields relayq does not use (`accountFilter`, `instanceId`, `mode`, `enableRemix`,
 *   `chooseSameChannel`, `language`, …) are ignored;
 * - a blank optional field (`""` or white space, `null`, `[]`) means "not given" — web clients
 *   send `"notifyHook": ""`, `"state": ""`, `"base64Array": []`, `"sourceUrl": ""`;
 * - a required field that is missing or blank is refused, naming it;
 * - images are read by `parseImageInput` (data URLs in their variants, bare base64, http(s) URLs)
 *   and come out as blobs.
 */

const req = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined || iss.input === null ? 'is required' : `must be ${what}`),
});

const isBlank = (v: unknown) => v === null || (typeof v === 'string' && v.trim() === '') || (Array.isArray(v) && v.length === 0);

/** An optional field whose blank values mean "not given". */
const opt = <T extends z.ZodType>(t: T) => z.preprocess((v) => (isBlank(v) ? undefined : v), t.optional());

const image = z.string(req('a string')).transform((s, ctx): Blob => {
  const r = parseImageInput(s);
  if (r.ok) return r.blob;
  ctx.addIssue({ code: 'custom', message: r.reason });
  return z.NEVER;
});

/** `base64Array`: blank items are skipped (as trueai-org's server skips them), the others must be images. */
const images = z
  .array(z.preprocess((v) => (isBlank(v) ? null : v), image.nullable()), req('an array of images (data URLs, base64 or http(s) URLs)'))
  .transform((list) => list.filter((b): b is Blob => b !== null));

const httpUrl = z
  .string(req('a string'))
  .trim()
  .max(2000, 'must be at most 2000 characters')
  .refine(isHttpUrl, 'must be an http(s) URL');

/** As trueai-org's server reads it: `niji`/`NIJI_JOURNEY` (any case) is Niji; anything else, blank included, is Midjourney. */
const botType = opt(z.string(req('a string'))).transform((v): MjRequest['botType'] => (v && /^niji(_journey)?$/i.test(v.trim()) ? 'NIJI_JOURNEY' : 'MID_JOURNEY'));

const common = {
  notifyHook: opt(httpUrl),
  state: opt(z.string(req('a string')).max(255, 'must be at most 255 characters')),
};

const prompt = z
  .string(req('a string'))
  .trim()
  .min(1, 'must not be blank')
  .max(8192, 'must be at most 8192 characters');

export const imagineBody = z
  .object({
    prompt,
    base64Array: opt(images),
    /** The single image field of early midjourney-proxy versions; added after `base64Array` as novicezk's server does. */
    base64: opt(image),
    botType,
    ...common,
  })
  .transform(({ base64Array, base64, ...rest }) => ({ ...rest, images: [...(base64Array ?? []), ...(base64 ? [base64] : [])] }))
  .refine((b) => b.images.length <= 5, { message: 'must hold at most 5 images', path: ['base64Array'] });

export const blendBody = z.object({
  base64Array: images.refine((list) => list.length >= 2 && list.length <= 5, 'must hold 2 to 5 images'),
  dimensions: opt(
    z
      .string(req('a string'))
      .transform((s) => s.trim().toUpperCase())
      .pipe(z.enum(['PORTRAIT', 'SQUARE', 'LANDSCAPE'], { error: 'must be PORTRAIT, SQUARE or LANDSCAPE' })),
  ),
  botType,
  ...common,
});

export const describeBody = z
  .object({ base64: opt(image), link: opt(httpUrl), botType, ...common })
  .refine((b) => b.base64 !== undefined || b.link !== undefined, { message: 'is required (or link)', path: ['base64'] })
  .refine((b) => !(b.base64 !== undefined && b.link !== undefined), { message: 'give base64 or link, not both', path: ['link'] });

export const shortenBody = z.object({ prompt, botType, ...common });

/**
 * A task id as its decimal form when sent as a JSON number: midjourney-proxy ids are digit
 * strings (`"1712345678901234"`), which clients that parse them as numbers send back unquoted,
 * and Jackson-based servers coerce numbers into their String fields. Other values stay as they are.
 */
const numberAsString = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);

const id = z.preprocess(numberAsString, z.string(req('a string')).trim().min(1, 'must not be blank').max(64, 'must be at most 64 characters'));

export const actionBody = z.object({
  taskId: id,
  customId: z.string(req('a string')).trim().min(1, 'must not be blank').max(512, 'must be at most 512 characters'),
  ...common,
});

export const modalBody = z.object({
  taskId: id,
  prompt: opt(z.string(req('a string')).trim().max(8192, 'must be at most 8192 characters')),
  maskBase64: opt(image),
});

const sameImage = (a: Blob, b: Blob) => a.type === b.type && a.data.equals(b.data);

/** Each face is `…Base64` or `…Url` (trueai-org's form), either in any image form; `…Base64` wins when both are given. */
export const swapBody = z
  .object({ sourceBase64: opt(image), sourceUrl: opt(image), targetBase64: opt(image), targetUrl: opt(image), ...common })
  .superRefine((b, ctx) => {
    if (!b.sourceBase64 && !b.sourceUrl) ctx.addIssue({ code: 'custom', message: 'is required (or sourceUrl)', path: ['sourceBase64'] });
    else if (!b.targetBase64 && !b.targetUrl) ctx.addIssue({ code: 'custom', message: 'is required (or targetUrl)', path: ['targetBase64'] });
  })
  .transform(({ sourceBase64, sourceUrl, targetBase64, targetUrl, ...rest }) => ({
    ...rest,
    source: (sourceBase64 ?? sourceUrl) as Blob,
    target: (targetBase64 ?? targetUrl) as Blob,
    targetField: targetBase64 ? 'targetBase64' : 'targetUrl',
  }))
  .superRefine((b, ctx) => {
    if (sameImage(b.source, b.target)) ctx.addIssue({ code: 'custom', message: 'must differ from the source image', path: [b.targetField] });
  });

/**
 * `ids`: numbers are read as their decimal form (numberAsString; Dooy's web client builds ids with
 * `+reqid`), and items that are neither (null, objects, booleans) name no task: they are left out
 * like unknown ids, never a reason to refuse the whole list.
 */
export const listByConditionBody = z.object({
  ids: z
    .array(z.unknown(), req('an array of task ids'))
    .max(1000, 'must hold at most 1000 ids')
    .nullish()
    .transform((v) => (v ?? []).map(numberAsString).filter((x): x is string => typeof x === 'string')),
});

/** A task id in a path: any string; one that is not a relayq id names no task (404, like an unknown one). */
export const taskIdParams = z.object({ id: z.string() });
