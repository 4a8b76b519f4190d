import type { Task, TaskBase } from './model.js';

/** The fields every task starts with, whatever its family: queued, nothing done yet. */
export function baseFields(now = Date.now()): Omit<TaskBase, 'id' | 'kind' | 'family' | 'tenant'> {
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
    upstream: null,
    response: null,
    webhook: null,
    channel_attempts: [],
  };
}

/**
 * A fresh task of any family, with every base field present (readers never meet a missing field)
 * and the family's own fields as given.
 */
export function newTask<T extends Task>(fields: Pick<T, 'id' | 'kind' | 'family' | 'tenant'> & Omit<Partial<T>, 'id' | 'kind' | 'family' | 'tenant'>, now = Date.now()): T {
  return { ...baseFields(now), ...fields } as T;
}
