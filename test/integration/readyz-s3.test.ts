import { CreateBucketCommand, DeleteBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ClientOf } from '../../shared/blobs-s3.js';
import { startS3, type LocalS3 } from '../support/s3.js';
import { startStack, waitFor, type Stack } from '../support/stack.js';

describe('readiness with BLOB_STORE=s3', () => {
  let s3: LocalS3;
  let s: Stack;
  let client: S3Client;
  beforeAll(async () => {
    s3 = await startS3('relayq-ready');
    s = await startStack({ worker: false, env: s3.env });
    client = s3ClientOf(s.config);
  });
  afterAll(async () => {
    client.destroy();
    await s.close();
    await s3.close();
  });

  const readyz = async () => {
    const res = await fetch(`${s.api.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };

  it('is ready while the bucket answers, and says which setting to fix when it does not', async () => {
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    await client.send(new DeleteBucketCommand({ Bucket: 'relayq-ready' }));
    const gone = await waitFor(async () => {
      const r = await readyz();
      return r.status === 503 ? r : null;
    }, { timeoutMs: 5000 });
    expect(gone.body.status).toBe('unavailable');
    expect(gone.body.reason).toMatch(/^blob store: .*relayq-ready.*does not exist/);
    await client.send(new CreateBucketCommand({ Bucket: 'relayq-ready' }));
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 5000 });
  });
});
