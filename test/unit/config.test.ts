import { describe, expect, it, vi } from 'vitest';
import { ignoredS3Settings, openCheckedBlobStore } from '../../shared/blobs.js';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { QUEUE_NAMES } from '../../shared/families/catalog.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'relayq',
      QUEUE_SHARDS: 1,
      HOST: '127.0.0.1',
      PORT: 8080,
      API_KEYS: [],
      TASK_RETENTION_SECONDS: 604800,
      SYNC_WAIT_SECONDS: 600,
      MAX_BODY_BYTES: 26214400,
      MAX_QUEUE_DEPTH: 100000,
      WEBHOOK_ALLOW_PRIVATE: false,
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: 600,
      MJ_UPSTREAM_TIMEOUT_SECONDS: 600,
      SHUTDOWN_GRACE_SECONDS: 30,
    });
    // Every queue of the catalog: the families' (MJ's, OpenAI's, and each one added since) and the core's.
    expect(c.WORKER_QUEUES).toEqual([...QUEUE_NAMES]);
    expect(c.WORKER_QUEUES).toEqual(expect.arrayContaining(['mj', 'image', 'audio', 'text', 'webhook']));
  });

  it('allows every origin by default, a list of origins, and no CORS for an empty CORS_ORIGINS', () => {
    expect(loadConfig({}).CORS_ORIGINS).toEqual(['*']);
    expect(loadConfig({ CORS_ORIGINS: '' }).CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://App.example.com/, http://localhost:3000' }).CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com,*' }).CORS_ORIGINS).toEqual(['*']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://a.example.com/app' })).toThrow(/CORS_ORIGINS: "https:\/\/a.example.com\/app" is not an origin/);
    expect(() => loadConfig({ CORS_ORIGINS: 'a.example.com' })).toThrow(/CORS_ORIGINS/);
  });

  it('reads tenant:secret pairs', () => {
    const c = loadConfig({ API_KEYS: 'acme:sk-1234567890, beta:sk-abcdefghij' });
    expect(c.API_KEYS).toEqual([
      { tenant: 'acme', secret: 'sk-1234567890' },
      { tenant: 'beta', secret: 'sk-abcdefghij' },
    ]);
  });

  it('lists every bad variable at once and never echoes a secret', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', WORKER_QUEUES: 'mj,nosuchqueue', API_KEYS: 'nocolon-supersecretvalue', REDIS_URL: 'http://x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'WORKER_QUEUES', 'API_KEYS', 'REDIS_URL']) expect(problems).toContain(name);
    expect(problems).not.toContain('supersecretvalue');
  });
});

describe('S3 settings without BLOB_STORE=s3', () => {
  it('are named in a warning at start, since they have no effect', async () => {
    const config = loadConfig({ S3_BUCKET: 'media', S3_ENDPOINT: 'http://minio:9000' });
    expect(ignoredS3Settings(config)).toEqual(['S3_BUCKET', 'S3_ENDPOINT']);
    const warn = vi.fn();
    await openCheckedBlobStore({ redis: {} as never, config, log: { warn } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![1])).toMatch(/S3_BUCKET, S3_ENDPOINT set but BLOB_STORE=redis/);
  });

  it('warn of nothing when the bucket is used or no S3 setting is given', () => {
    expect(ignoredS3Settings(loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'media' }))).toEqual([]);
    expect(ignoredS3Settings(loadConfig({}))).toEqual([]);
  });
});

describe('TRUST_PROXY', () => {
  it('takes none, any, a hop count or addresses and CIDR ranges, and names a bad entry', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }).TRUST_PROXY).toEqual(['127.0.0.1', '10.0.0.0/8', '::1']);
    expect(() => loadConfig({ TRUST_PROXY: 'nginx' })).toThrow(/TRUST_PROXY.*"nginx" is not an address/);
  });
});
