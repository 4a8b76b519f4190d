import { createHash, timingSafeEqual } from 'node:crypto';
import { rememberSecrets } from '../shared/redact.js';
import type { Config } from '../shared/config.js';

export interface Principal {
  tenant: string;
  admin: boolean;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** `Bearer <key>` (any case, any spacing) or the bare key; blank when only the scheme is there. */
const withoutScheme = (value: string) => value.trim().replace(/^Bearer(?:\s+|$)/i, '').trim();

/**
 * The credentials a request presents, in the order they are tried: `Authorization` (`Bearer
 * <key>` or the bare key), `mj-api-secret` (with or without `Bearer `), `x-api-key` (what the
 * Anthropic SDKs send). Blank ones are left out. Gateways put a placeholder in one header and
 * the real key in another: new-api's MJ poller sends `Authorization: Bearer midjourney-proxy`
 * with the key in `mj-api-secret`, so no header may be trusted to be the one that counts.
 */
export function presentedKeys(headers: Record<string, string | string[] | undefined>): string[] {
  const keys: string[] = [];
  for (const name of ['authorization', 'mj-api-secret', 'x-api-key']) {
    const value = headers[name];
    const key = typeof value === 'string' ? withoutScheme(value) : '';
    if (key && !keys.includes(key)) keys.push(key);
  }
  return keys;
}

/**
 * Maps the presented keys (presentedKeys) to a tenant: the first that is a known key wins, so a
 * placeholder or a stale key in one header does not hide a valid one in another. Each key is
 * compared with every configured key, in constant time, so neither the answer's timing nor its
 * content tells how close a guess came. A key found once is remembered (at most one entry per
 * configured key, keys being fixed for the process's life): the next requests with it skip the
 * digest and the comparisons. Only a known key can be remembered, so an unknown one always takes
 * the constant-time path.
 */
export function createAuthenticator(config: Pick<Config, 'API_KEYS' | 'ADMIN_KEYS'>) {
  const entries = [
    ...config.API_KEYS.map((k) => ({ hash: digest(k.secret), principal: { tenant: k.tenant, admin: false } })),
    ...config.ADMIN_KEYS.map((k) => ({ hash: digest(k), principal: { tenant: 'admin', admin: true } })),
  ];
  // relayq's own keys are secrets too wherever text is redacted (e.g. a key pasted into a path).
  rememberSecrets([...config.API_KEYS.map((k) => k.secret), ...config.ADMIN_KEYS]);
  const known = new Map<string, Principal>();
  const lookup = (key: string): Principal | null => {
    const remembered = known.get(key);
    if (remembered) return remembered;
    const h = digest(key);
    let found: Principal | null = null;
    for (const e of entries) if (timingSafeEqual(h, e.hash) && !found) found = e.principal;
    if (found) known.set(key, found);
    return found;
  };
  return (keys: readonly string[]): Principal | null => {
    for (const key of keys) {
      const principal = lookup(key);
      if (principal) return principal;
    }
    return null;
  };
}

/** Whether a principal may see a task: its own tenant's, or any for an admin key. */
export const canSee = (p: Principal, task: { tenant: string }) => p.admin || p.tenant === task.tenant;
