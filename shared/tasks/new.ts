import type { Task } from './model.js';

type Required = Pick<Task, 'id' | 'kind' | 'tenant'>;

/** A fresh task record with every field present (readers never meet a missing field). */
export function newTask(fields: Required & Partial<Task>, now = Date.now()): Task {
  return {
    status: 'queued',
    progress: 0,
    created_at: now,
    started_at: null,
    completed_at: null,
    attempts: 0,
    output: null,
    error: null,
    metadata: {},
    mj: null,
    upstream: null,
    image_url: null,
    buttons: [],
    properties: {},
    modal: null,
    seed: null,
    openai: null,
    response: null,
    webhook: null,
    channel_attempts: [],
    ...fields,
  };
}
