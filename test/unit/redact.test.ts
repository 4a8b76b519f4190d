import { describe, expect, it } from 'vitest';
import { redact, redactBody, rememberSecrets } from '../../shared/redact.js';

describe('redact', () => {
  it('removes a remembered secret wherever it appears, whatever its shape', () => {
    rememberSecrets(['mj-proxy-secret-4711', 'short', null]);
    expect(redact('account check failed for mj-proxy-secret-4711 (x)')).toBe('account check failed for [redacted] (x)');
    expect(redact('short stays: it is under 8 characters')).toBe('short stays: it is under 8 characters');
  });

  it('masks token-shaped credentials it was never told about (as OpenAI, Anthropic and proxies quote them)', () => {
    expect(redact('Incorrect API key provided: sk-proj-AbCdEf1234567890. You can find your API key at …')).toBe(
      'Incorrect API key provided: sk-[redacted]. You can find your API key at …',
    );
    expect(redact('invalid x-api-key sk-ant-api03-XYZxyz0123456789')).toBe('invalid x-api-key sk-[redacted]');
    expect(redact('token Bearer abcdefgh12345678 has no credits')).toBe('token Bearer [redacted] has no credits');
    expect(redact('GET https://x.test/v1?key=AIzaSyD-0123456789&alt=sse')).toBe('GET https://x.test/v1?key=[redacted]&alt=sse');
    expect(redact('a plain sentence about sk- and Bearer tokens')).toBe('a plain sentence about sk- and Bearer tokens');
  });

  it('cleans text bodies and leaves binary ones alone', () => {
    const json = Buffer.from('{"error":{"message":"bad key sk-abcdefgh12345678"}}');
    expect(redactBody(json, 'application/json').toString()).toBe('{"error":{"message":"bad key sk-[redacted]"}}');
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x73, 0x6b, 0x2d]);
    expect(redactBody(png, 'image/png')).toBe(png);
  });
});
