import { describe, expect, it } from 'vitest';
import { failureStatus } from '../../api/replay.js';
import type { TaskError } from '../../shared/tasks/model.js';

const failed = (error: TaskError | null) => ({ status: 'failed' as const, error });

describe('the status a failed task is answered with', () => {
  it('is the status its error stands for, whatever its code says', () => {
    expect(failureStatus(failed({ type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages', status: 400, message: 'too long' }))).toBe(400);
    expect(failureStatus(failed({ type: 'tokens', code: 'rate_limit_exceeded', status: 429, message: 'daily limit' }))).toBe(429);
    expect(failureStatus(failed({ type: 'server_error', code: null, status: 524, message: 'A timeout occurred' }))).toBe(524);
  });

  it('falls back to a numeric code for tasks stored before errors carried a status', () => {
    expect(failureStatus(failed({ type: 'upstream_error', code: '503', message: 'busy' }))).toBe(503);
    expect(failureStatus(failed({ type: 'upstream_error', code: 'upstream_refused', message: 'no' }))).toBe(502);
    expect(failureStatus(failed({ type: 'timeout', code: 'upstream_timeout', message: 'slow' }))).toBe(504);
    expect(failureStatus(failed({ type: 'internal_error', code: 'job_failed', message: 'x' }))).toBe(500);
    expect(failureStatus({ status: 'canceled', error: { type: 'canceled', code: 'canceled', message: 'canceled by client' } })).toBe(409);
  });
});
