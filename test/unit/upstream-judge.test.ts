import { describe, expect, it } from 'vitest';
import { PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import { faultError, faultIn, looseFault } from '../../worker/upstream/faults.js';
import { quoteBigIntegers } from '../../worker/upstream/http.js';
import { createStreamJudge, expectationOf, judgeAnswer, type Answer } from '../../worker/families/openai/judge.js';
import { createSseParser, parseSse } from '../../worker/upstream/sse.js';

const json = (body: unknown, contentType = 'application/json'): Answer => ({ status: 200, contentType, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
const completion = { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('errors sent with HTTP 200', () => {
  it.each([
    ['OpenAI envelope, server_error', { error: { message: 'upstream overloaded', type: 'server_error' } }, 'upstream overloaded', RetryableUpstreamError, 502],
    ['OpenAI envelope, invalid_request_error', { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } }, 'bad temperature', PermanentUpstreamError, 400],
    ['a bare string (Ollama, new-api)', { error: 'model "x" not found' }, 'model "x" not found', PermanentUpstreamError, 502],
    ['OpenRouter, numeric code as status', { error: { code: 502, message: 'Provider returned error', metadata: { provider_name: 'X' } } }, 'Provider returned error', RetryableUpstreamError, 502],
    ['OpenRouter, rate limit', { error: { code: 429, message: 'Rate limit exceeded' } }, 'Rate limit exceeded', RetryableUpstreamError, 429],
    ['Anthropic-style overloaded', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'Overloaded', RetryableUpstreamError, 503],
    ['Anthropic-style envelope naming http_status 529', { type: 'error', error: { type: 'api_error', message: 'Overloaded' }, http_status: 529 }, 'Overloaded', RetryableUpstreamError, 529],
    ['a 5xx off the usual list (Cloudflare 524 named in the body)', { error: { code: 524, message: 'A timeout occurred' } }, 'A timeout occurred', RetryableUpstreamError, 524],
    ['501 is never retried', { error: { code: 501, message: 'Not implemented' } }, 'Not implemented', PermanentUpstreamError, 501],
    ['MiniMax-style http_code string', { type: 'error', error: { type: 'bad_request_error', message: 'invalid params (2013)', http_code: '400' } }, 'invalid params (2013)', PermanentUpstreamError, 400],
    ['vLLM object: error', { object: 'error', message: 'max_tokens too large', type: 'BadRequestError', param: null, code: 400 }, 'max_tokens too large', PermanentUpstreamError, 400],
    ['Gemini array', [{ error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED' } }], 'Resource has been exhausted', RetryableUpstreamError, 429],
    ['MiniMax base_resp rate limit', { id: 'x', choices: null, base_resp: { status_code: 1002, status_msg: 'rate limit exceeded' } }, 'rate limit exceeded', RetryableUpstreamError, 429],
    ['MiniMax base_resp balance', { base_resp: { status_code: 1008, status_msg: 'insufficient balance' } }, 'insufficient balance', PermanentUpstreamError, 402],
    ['insufficient_quota is not retried', { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }, 'You exceeded your current quota', PermanentUpstreamError, 429],
    ['error: true with a message', { error: true, message: 'Unexpected token' }, 'Unexpected token', PermanentUpstreamError, 502],
    ['a relay management API', { success: false, message: '无效的令牌' }, '无效的令牌', PermanentUpstreamError, 502],
  ])('%s', (_name, body, message, cls, status) => {
    const err = thrown(() => judgeAnswer('chat', json(body)));
    expect(err).toBeInstanceOf(cls);
    expect(err.message).toBe(message);
    expect((err as { status?: number }).status).toBe(status);
    expect((err as PermanentUpstreamError).response).toBeUndefined();
  });

  it("carries the upstream's own type, code and param on the error", () => {
    const err = thrown(() => judgeAnswer('chat', json({ error: { message: 'too long', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } })));
    expect(err).toMatchObject({ status: 400, upstreamError: { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } });
    expect((thrown(() => judgeAnswer('chat', json({ error: 'no type or code' }))) as PermanentUpstreamError).upstreamError).toBeUndefined();
  });

  it('reads no fault from a normal answer or from empty error fields', () => {
    expect(faultIn(completion)).toBeNull();
    expect(faultIn({ ...completion, error: null })).toBeNull();
    expect(faultIn({ ...completion, base_resp: { status_code: 0, status_msg: '' } })).toBeNull();
    expect(judgeAnswer('chat', json({ ...completion, error: null })).body.toString()).toContain('"hi"');
  });

  it('reads what a non-OpenAI error body names (LiteLLM #33148, FastAPI)', () => {
    expect(looseFault({ response: 'Token is invalid [2]', status: 400 })).toMatchObject({ message: 'Token is invalid [2]', status: 400 });
    expect(faultError(looseFault({ detail: 'Not Found' })!)).toBeInstanceOf(PermanentUpstreamError);
    const err = thrown(() => judgeAnswer('chat', json({ response: 'Token is invalid [2]', status: 400 })));
    expect(err).toMatchObject({ message: 'Token is invalid [2]', status: 400 });
  });
});

describe('answers that are not what the endpoint promises', () => {
  it('fails an HTML page where JSON was expected, naming its title', () => {
    const err = thrown(() => judgeAnswer('chat', json('<!DOCTYPE html><html><head><title>NextChat</title></head><body></body></html>', 'text/html; charset=utf-8')));
    expect(err).toBeInstanceOf(PermanentUpstreamError);
    expect(err.message).toBe('upstream answered HTTP 200 with an HTML page ("NextChat") where a chat completion was expected');
  });

  it('fails truncated JSON, JSON of another shape and an empty body', () => {
    expect(thrown(() => judgeAnswer('chat', json('{"id":"c","choices":[{"index":0,"mess')))).toBeInstanceOf(PermanentUpstreamError);
    expect(thrown(() => judgeAnswer('chat', json({ id: 'c', object: 'chat.completion' }))).message).toContain('JSON of another shape');
    expect(thrown(() => judgeAnswer('chat', json({ id: null, object: 'text_completion', choices: [] }))).message).toContain('where a chat completion was expected');
    expect(thrown(() => judgeAnswer('embedding', json({ object: 'list' }))).message).toContain('an embedding list');
    expect(thrown(() => judgeAnswer('image', json('')))).toBeInstanceOf(PermanentUpstreamError);
  });

  it('accepts each endpoint\'s minimal shape, and labels JSON sent as text/plain as JSON', () => {
    expect(judgeAnswer('embedding', json({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1] }] })).status).toBe(200);
    expect(judgeAnswer('image', json({ created: 1, data: [{ url: 'https://x/y.png' }] })).status).toBe(200);
    expect(judgeAnswer('text', json({ choices: [{ index: 0, text: 'x', finish_reason: 'stop' }] })).status).toBe(200);
    expect(judgeAnswer('chat', json(completion, 'text/plain')).contentType).toBe('application/json');
  });

  it('judges speech: audio bytes pass, a JSON or text body is a failure', () => {
    const audio: Answer = { status: 200, contentType: 'audio/mpeg', body: Buffer.from([0xff, 0xfb, 0x90, 0x00]) };
    expect(judgeAnswer('speech', audio)).toBe(audio);
    expect(thrown(() => judgeAnswer('speech', json({ error: { message: 'voice not found', type: 'invalid_request_error' } })))).toMatchObject({ message: 'voice not found', status: 400 });
    expect(thrown(() => judgeAnswer('speech', json({ ok: true }))).message).toContain('where audio was expected');
    expect(thrown(() => judgeAnswer('speech', json('quota exceeded', 'text/plain'))).message).toContain('where audio was expected');
    expect(thrown(() => judgeAnswer('speech', { status: 200, contentType: 'audio/mpeg', body: Buffer.alloc(0) })).message).toContain('empty body');
  });

  it('judges transcripts by the format asked for', () => {
    expect(expectationOf('audio/transcriptions', 'srt')).toBe('transcript-text');
    expect(expectationOf('audio/translations', null)).toBe('transcript');
    expect(judgeAnswer('transcript-text', json('1\n00:00:00,000 --> 00:00:01,000\nhi\n', 'application/x-subrip')).status).toBe(200);
    expect(thrown(() => judgeAnswer('transcript-text', json({ error: { message: 'bad audio', type: 'invalid_request_error' } })))).toMatchObject({ status: 400 });
    expect(thrown(() => judgeAnswer('transcript', json('hello', 'text/plain')))).toBeInstanceOf(PermanentUpstreamError);
  });

  it('turns an event stream answering a non-stream chat call into the whole completion', () => {
    const sse = [
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}',
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}',
      'data: [DONE]',
      '',
    ].join('\n\n');
    const out = judgeAnswer('chat', json(sse, 'text/event-stream'));
    expect(out.contentType).toBe('application/json');
    expect(JSON.parse(out.body.toString())).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }] });
    // Without the content type too, and an error event in it is a failure.
    expect(judgeAnswer('chat', json(sse, 'text/plain')).contentType).toBe('application/json');
    expect(thrown(() => judgeAnswer('chat', json('event: error\ndata: {"error":{"message":"boom","type":"server_error"}}\n\n', 'text/event-stream')))).toBeInstanceOf(RetryableUpstreamError);
  });
});

describe('server-sent events', () => {
  it('reads CRLF and CR framing, comments, multi-line data, data without a space and a BOM', () => {
    const events = parseSse('\uFEFF: keep-alive\r\ndata:{"a":1}\r\n\r\n: OPENROUTER PROCESSING\n\nevent: error\ndata: {"b":\ndata: 2}\n\ndata: x\r\rdata: [DONE]');
    expect(events).toEqual([
      { event: null, data: '{"a":1}' },
      { event: 'error', data: '{"b":\n2}' },
      { event: null, data: 'x' },
      { event: null, data: '[DONE]' },
    ]);
  });

  it('keeps an event whose CRLF is split across two reads', () => {
    const p = createSseParser();
    expect(p.push('data: 1\r')).toEqual([]);
    expect(p.push('\n\r\ndata: 2\n\n')).toEqual([
      { event: null, data: '1' },
      { event: null, data: '2' },
    ]);
  });
});

describe('stream judge', () => {
  const chunk = (content: string, finish: string | null = null) => ({ event: null, data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] }) });

  it('fails on an error event and on a data chunk carrying an error', () => {
    expect(thrown(() => createStreamJudge('chat').event({ event: 'error', data: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' }))).toMatchObject({ message: 'Overloaded', status: 503 });
    const j = createStreamJudge('chat');
    j.event(chunk('a'));
    const mid = { event: null, data: JSON.stringify({ id: 'c', error: { code: 'server_error', message: 'Provider disconnected' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] }) };
    expect(thrown(() => j.event(mid))).toMatchObject({ message: 'Provider disconnected' });
    expect(thrown(() => createStreamJudge('chat').event({ event: null, data: 'not json' }))).toBeInstanceOf(PermanentUpstreamError);
  });

  it('calls a stream complete with [DONE] or with every choice finished, never otherwise', () => {
    const done = createStreamJudge('chat');
    done.event(chunk('a'));
    expect(done.event({ event: null, data: '[DONE]' })).toBe('done');
    expect(done.end()).toMatchObject({ choices: [{ message: { content: 'a' } }] });

    const finished = createStreamJudge('chat');
    finished.event(chunk('a', 'stop'));
    expect(finished.end()).toMatchObject({ choices: [{ finish_reason: 'stop' }] });

    const cut = createStreamJudge('chat');
    cut.event(chunk('a'));
    expect(thrown(() => cut.end())).toMatchObject({ message: 'upstream stream ended before it finished' });
    expect(thrown(() => createStreamJudge('chat').end())).toBeInstanceOf(RetryableUpstreamError);
  });

  it('reads an error sent as plain JSON in place of an event stream', () => {
    const j = createStreamJudge('chat');
    expect(thrown(() => j.end('{"error":{"message":"quota","type":"insufficient_quota"}}'))).toMatchObject({ message: 'quota', status: 429 });
    expect(thrown(() => j.end('<html>'))).toMatchObject({ message: 'upstream stream ended before it finished' });
  });

  it('skips pings and blank data, and re-serializes multi-line data for the relay', () => {
    const j = createStreamJudge('chat');
    expect(j.event({ event: 'ping', data: '{}' })).toBeNull();
    expect(j.event({ event: null, data: '' })).toBeNull();
    const step = j.event({ event: null, data: '{"id":"c",\n"choices":[]}' });
    expect(step).toMatchObject({ data: '{"id":"c","choices":[]}' });
  });
});

describe('long integer ids', () => {
  it('keeps every digit of integers past 2^53 and leaves strings alone', () => {
    const text = '{"code":1,"result":1712345678901234567,"n":12,"f":-1.5e3,"s":"x: 12345678901234567"}';
    expect(JSON.parse(quoteBigIntegers(text))).toEqual({ code: 1, result: '1712345678901234567', n: 12, f: -1500, s: 'x: 12345678901234567' });
  });
});
