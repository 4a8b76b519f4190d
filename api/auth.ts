import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../shared/config.js';

export interface Principal {
  tenant: string;
  admin: boolean;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The key a request presents: `Authorization: Bearer <key>`, `Authorization: <key>` or `mj-api-secret`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.trim() !== '') return auth.replace(/^Bearer\s+/i, '').trim();
  const secret = headers['mj-api-secret'];
  if (typeof secret === 'string' && secret.trim() !== '') return secret.replace(/^Bearer\s+/i, '').trim();
  return null;
}

/**
 * Maps a key to its tenant. Every configured key is compared, in constant time, on every call,
 * so neither the answer's timing nor its content tells how close a guess came.
 */
export function createAuthenticator(config: Pick<Config, 'API_KEYS' | 'ADMIN_KEYS'>) {
  const entries = [
    ...config.API_KEYS.map((k) => ({ hash: digest(k.secret), principal: { tenant: k.tenant, admin: false } })),
    ...config.ADMIN_KEYS.map((k) => ({ hash: digest(k), principal: { tenant: 'admin', admin: true } })),
  ];
  return (key: string | null): Principal | null => {
    if (!key) return null;
    const h = digest(key);
    let found: Principal | null = null;
    for (const e of entries) if (timingSafeEqual(h, e.hash) && !found) found = e.principal;
    return found;
  };
}

/** Whether a principal may see a task: its own tenant's, or any for an admin key. */
export const canSee = (p: Principal, task: { tenant: string }) => p.admin || p.tenant === task.tenant;
