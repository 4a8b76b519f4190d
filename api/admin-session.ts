import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The cookie that holds an admin browser session (for the queue dashboard). */
export const SESSION_COOKIE = 'relayq_admin';

/** How long a session lasts (ms): a working day. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

const mac = (key: string, expires: number) =>
  createHmac('sha256', createHash('sha256').update(key).digest()).update(`relayq-admin-session.v1.${expires}`).digest();

/**
 * Admin browser sessions without server state: a token `v1.<expires ms>.<mac>`, where mac is an
 * HMAC-SHA256 of the expiry keyed by (a hash of) one admin key. The key itself never leaves the
 * login request: the token cannot be turned back into it, and any API replica that knows the
 * same ADMIN_KEYS accepts it. Removing a key from ADMIN_KEYS ends its sessions; logging out
 * clears the cookie (a copied token stays valid until it expires).
 */
export function createAdminSessions(adminKeys: readonly string[], now: () => number = Date.now) {
  return {
    /** A session token for an admin key; null for any other key. Compares in constant time. */
    issue(key: string): string | null {
      const presented = createHash('sha256').update(key).digest();
      let match = false;
      for (const k of adminKeys) if (timingSafeEqual(presented, createHash('sha256').update(k).digest())) match = true;
      if (!match) return null;
      const expires = now() + SESSION_TTL_MS;
      return `v1.${expires}.${mac(key, expires).toString('base64url')}`;
    },
    /** Whether a token is a live session of a current admin key. */
    verify(token: string | undefined): boolean {
      const m = /^v1\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token ?? '');
      if (!m?.[1] || !m[2]) return false;
      const expires = Number(m[1]);
      if (expires <= now()) return false;
      const given = Buffer.from(m[2], 'base64url');
      let ok = false;
      for (const k of adminKeys) if (timingSafeEqual(given, mac(k, expires))) ok = true;
      return ok;
    },
  };
}

export type AdminSessions = ReturnType<typeof createAdminSessions>;

/** One cookie's value from a `Cookie` header (undefined when absent). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * The `Set-Cookie` value of a session (or, with a null token, of its removal): HttpOnly, SameSite=Strict,
 * scoped to `/admin`, Secure when the request came over https (directly or per X-Forwarded-Proto).
 */
export function sessionCookie(token: string | null, secure: boolean): string {
  const attrs = ['Path=/admin', 'HttpOnly', 'SameSite=Strict', token ? `Max-Age=${SESSION_TTL_MS / 1000}` : 'Max-Age=0', ...(secure ? ['Secure'] : [])];
  return `${SESSION_COOKIE}=${token ?? ''}; ${attrs.join('; ')}`;
}
