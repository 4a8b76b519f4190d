import { describe, expect, it } from 'vitest';
import { ChannelRefusedError, CutShortError, PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { blameOf } from '../../worker/channels/run.js';
import { concernsAccount } from '../../worker/families/mj/client.js';
import { isModelNotFound } from '../../worker/upstream/http.js';

/** What a failure says about its channel: move on, count it, or leave the channel alone. */
describe('how a failure bears on its channel', () => {
  it('tells an MJ refusal about the account from one about the request', () => {
    expect(concernsAccount(3, '无可用的账号实例', '/mj/submit/imagine')).toBe(true);
    expect(concernsAccount(3, 'no available account', '/mj/submit/blend')).toBe(true);
    expect(concernsAccount(4, '账号不可用', '/mj/submit/imagine')).toBe(true);
    expect(concernsAccount(4, 'account unavailable', '/mj/submit/imagine')).toBe(true);
    expect(concernsAccount(4, 'your account is banned', '/mj/submit/imagine')).toBe(true);
    // A parent task that is gone, a refused prompt: the request, not the account.
    expect(concernsAccount(3, '关联任务不存在或已失效', '/mj/submit/action')).toBe(false);
    expect(concernsAccount(4, 'prompt不能为空', '/mj/submit/imagine')).toBe(false);
    expect(concernsAccount(4, 'banned word: gore', '/mj/submit/imagine')).toBe(false);
    expect(concernsAccount(24, 'banned prompt', '/mj/submit/imagine')).toBe(false);
  });

  it('reads a 404 model_not_found, or a bare "model … does not exist", as a wrong model list', () => {
    expect(isModelNotFound(404, 'The model `x` does not exist or you do not have access to it.', { type: 'invalid_request_error', code: 'model_not_found', param: 'model' })).toBe(true);
    expect(isModelNotFound(404, 'model "x" does not exist', undefined)).toBe(true);
    expect(isModelNotFound(404, 'Model not found', undefined)).toBe(true);
    expect(isModelNotFound(400, 'The model `x` does not exist', undefined)).toBe(false);
    expect(isModelNotFound(404, 'video not found', undefined)).toBe(false);
    expect(isModelNotFound(404, 'The model `x` does not exist', { type: 'invalid_request_error', code: 'task_not_exist', param: null })).toBe(false);
  });

  it('blames the channel for its own troubles, not for refusals of the request', () => {
    expect(blameOf(new RetryableUpstreamError('upstream answered 429', 429))).toBe('rate-limited');
    expect(blameOf(new RetryableUpstreamError('upstream answered 502', 502))).toBe('unwell');
    expect(blameOf(new ChannelRefusedError('upstream account unavailable (code 3): 无可用的账号实例'))).toBe('unwell');
    expect(blameOf(new PermanentUpstreamError('model "x" does not exist', 404))).toBe('unwell');
    expect(blameOf(new CutShortError('upstream reset the stream', 502))).toBe('cut');
    expect(blameOf(new PermanentUpstreamError('bad request', 400))).toBe('request');
    expect(blameOf(new Error('a bug'))).toBe('none');
  });
});
