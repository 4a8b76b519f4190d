import { describe, expect, it } from 'vitest';
import { createAuthenticator, presentedKeys } from '../../api/auth.js';

describe('API key authentication', () => {
  const authenticate = createAuthenticator({ API_KEYS: [{ tenant: 'acme', secret: 'sk-acme-0123456789' }, { tenant: 'beta', secret: 'sk-beta-0123456789' }], ADMIN_KEYS: ['sk-admin-0123456789'] });

  it('answers the same for a key seen before as for a new one, and never remembers an unknown key as known', () => {
    for (let i = 0; i < 3; i++) {
      expect(authenticate(['sk-acme-0123456789'])).toEqual({ tenant: 'acme', admin: false });
      expect(authenticate(['sk-admin-0123456789'])).toEqual({ tenant: 'admin', admin: true });
      expect(authenticate(['sk-acme-012345678'])).toBeNull();
      expect(authenticate(['sk-acme-01234567890'])).toBeNull();
      expect(authenticate([])).toBeNull();
    }
  });

  it('takes the first known key of those presented, placeholders skipped', () => {
    const keys = presentedKeys({ authorization: 'Bearer midjourney-proxy', 'mj-api-secret': 'sk-beta-0123456789', 'x-api-key': 'sk-acme-0123456789' });
    expect(keys).toEqual(['midjourney-proxy', 'sk-beta-0123456789', 'sk-acme-0123456789']);
    expect(authenticate(keys)).toEqual({ tenant: 'beta', admin: false });
    expect(authenticate(keys)).toEqual({ tenant: 'beta', admin: false });
    expect(authenticate(['midjourney-proxy', 'sk-acme-0123456789'])).toEqual({ tenant: 'acme', admin: false });
  });
});
