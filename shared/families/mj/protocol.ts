/** Midjourney-proxy wire shapes: submit answers and task objects as midjourney-proxy servers send them (docs/midjourney.md). */

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

export { parseProgress, readSubmitEnvelope, readUpstreamTask, type SubmitEnvelope, type UpstreamTask } from './upstream.js';
