import { createHmac, randomBytes } from 'node:crypto';
import { storeCall } from './errors.js';
import { globalKeys } from './keys.js';
import type { RedisClient } from './redis.js';

/** The tenant's Standard Webhooks secret (`whsec_…`), created on first use. */
export async function webhookSecret(redis: RedisClient, prefix: string, tenant: string): Promise<string> {
  const key = globalKeys(prefix).webhookSecret(tenant);
  return storeCall(async () => {
    const existing = await redis.get(key);
    if (existing) return existing;
    // First use: whoever sets it first wins; everyone then reads the same secret.
    await redis.set(key, `whsec_${randomBytes(24).toString('base64')}`, 'NX');
    const secret = await redis.get(key);
    if (!secret) throw new Error('webhook secret vanished');
    return secret;
  });
}

/**
 * Standard Webhooks signature: base64 HMAC-SHA256, keyed with the secret's bytes, over
 * `<webhook-id>.<webhook-timestamp>.<body>`.
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}
