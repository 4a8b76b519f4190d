import { z } from 'zod';

/** Midjourney-proxy wire shapes (reference/mj-contract.md §4–5). */

export const MJ_CODES = {
  SUCCESS: 1,
  NOT_FOUND: 3,
  VALIDATION_ERROR: 4,
  FAILURE: 9,
  EXISTED: 21,
  IN_QUEUE: 22,
  QUEUE_REJECTED: 23,
  BANNED_PROMPT: 24,
} as const;

export interface MjSubmitResult {
  code: number;
  description: string;
  result: string | null;
  properties: Record<string, unknown>;
}

export const MJ_STATUSES = ['NOT_START', 'SUBMITTED', 'MODAL', 'IN_PROGRESS', 'SUCCESS', 'FAILURE', 'CANCEL'] as const;
export type MjStatus = (typeof MJ_STATUSES)[number];

const buttonSchema = z.object({
  customId: z.string(),
  emoji: z.string().nullish().transform((v) => v ?? ''),
  label: z.string().nullish().transform((v) => v ?? ''),
  type: z.number().nullish().transform((v) => v ?? 2),
  style: z.number().nullish().transform((v) => v ?? 2),
});

/** An upstream task object as we accept it: lenient where proxies differ, strict where we rely on it. */
export const upstreamTaskSchema = z.object({
  id: z.string(),
  status: z.string().nullish(),
  progress: z.string().nullish(),
  imageUrl: z.string().nullish(),
  failReason: z.string().nullish(),
  promptEn: z.string().nullish(),
  buttons: z.array(buttonSchema).nullish(),
  properties: z.record(z.string(), z.unknown()).nullish(),
});
export type UpstreamTask = z.infer<typeof upstreamTaskSchema>;

export const submitResultSchema = z.object({
  code: z.number(),
  description: z.string().nullish(),
  result: z.union([z.string(), z.number()]).nullish(),
  properties: z.record(z.string(), z.unknown()).nullish(),
});

/** `"45%"` → 45; anything unreadable → null. */
export function parseProgress(p: string | null | undefined): number | null {
  if (!p) return null;
  const m = /^(\d{1,3})(?:\.\d+)?%$/.exec(p.trim());
  return m ? Math.min(100, Number(m[1])) : null;
}
