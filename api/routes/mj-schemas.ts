import { z } from 'zod';
import { parseDataUrl } from '../../shared/dataurl.js';
import { isHttpUrl } from '../http-url.js';

/** Request bodies of the Midjourney-proxy routes (reference/mj-contract.md §3). Unknown fields are ignored. */

const req = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined || iss.input === null ? 'is required' : `must be ${what}`),
});

const dataUrl = z
  .string(req('a string'))
  .refine((s) => parseDataUrl(s) !== null, 'must be a base64 data URL such as data:image/png;base64,...');

const httpUrl = z
  .string(req('a string'))
  .max(2000, 'must be at most 2000 characters')
  .refine(isHttpUrl, 'must be an http(s) URL');

const botType = z.enum(['MID_JOURNEY', 'NIJI_JOURNEY'], { error: 'must be MID_JOURNEY or NIJI_JOURNEY' }).optional();

const common = {
  notifyHook: httpUrl.optional(),
  state: z.string(req('a string')).max(255, 'must be at most 255 characters').optional(),
};

const prompt = z
  .string(req('a string'))
  .trim()
  .min(1, 'must not be blank')
  .max(8192, 'must be at most 8192 characters');

export const imagineBody = z.object({
  prompt,
  base64Array: z.array(dataUrl, req('an array of data URLs')).max(5, 'must hold at most 5 images').optional(),
  botType,
  ...common,
});

export const blendBody = z.object({
  base64Array: z.array(dataUrl, req('an array of data URLs')).min(2, 'must hold 2 to 5 images').max(5, 'must hold 2 to 5 images'),
  dimensions: z.enum(['PORTRAIT', 'SQUARE', 'LANDSCAPE'], { error: 'must be PORTRAIT, SQUARE or LANDSCAPE' }).optional(),
  botType,
  ...common,
});

export const describeBody = z
  .object({ base64: dataUrl.optional(), link: httpUrl.optional(), botType, ...common })
  .refine((b) => b.base64 !== undefined || b.link !== undefined, { message: 'is required (or link)', path: ['base64'] })
  .refine((b) => !(b.base64 !== undefined && b.link !== undefined), { message: 'give base64 or link, not both', path: ['link'] });

export const shortenBody = z.object({ prompt, botType, ...common });

const id = z.string(req('a string')).trim().min(1, 'must not be blank').max(64, 'must be at most 64 characters');

export const actionBody = z.object({
  taskId: id,
  customId: z.string(req('a string')).min(1, 'must not be blank').max(512, 'must be at most 512 characters'),
  ...common,
});

export const modalBody = z.object({
  taskId: id,
  prompt: z.string(req('a string')).trim().max(8192, 'must be at most 8192 characters').optional(),
  maskBase64: dataUrl.optional(),
});

export const swapBody = z
  .object({ sourceBase64: dataUrl, targetBase64: dataUrl, ...common })
  .refine((b) => b.sourceBase64 !== b.targetBase64, { message: 'must differ from sourceBase64', path: ['targetBase64'] });

export const listByConditionBody = z.object({
  ids: z
    .array(z.string(req('a string')), req('an array of task ids'))
    .max(1000, 'must hold at most 1000 ids')
    .nullish()
    .transform((v) => v ?? []),
});

export const taskIdParams = z.object({ id: z.string().min(1).max(64) });
