import type { Result } from 'ioredis';
import { RateLimitedError, StoreUnavailableError } from '../shared/errors.js';
import { globalKeys } from '../shared/keys.js';
import type { RedisClient } from '../shared/redis.js';

// Claims ARGV[2] tokens of the window at once; the window key gets its TTL when it is created.
const CLAIM_LUA = "local c = redis.call('INCRBY', KEYS[1], ARGV[2]) if c == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return c";

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** INCRBY `tokens` on a fixed-window counter, setting its TTL (s) on creation; the count after. */
    relayqRateClaim(key: string, ttlSeconds: number, tokens: number): Result<number, Context>;
  }
}

/**
 * Defines `relayqRateClaim` on a connection: the one fixed-window counter (INCRBY, with the
 * window's TTL set when the key is created) for the rate limit and the sign-in attempt limit.
 */
export function defineWindowCounter(redis: RedisClient): void {
  redis.defineCommand('relayqRateClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
}

/** The most tokens one claim takes, whatever the limit. */
export const MAX_CLAIM = 64;

/**
 * A claim never takes more than this share of the limit (1/50 = 2 %), so a process can hold
 * back at most that much of a tenant's minute from the others; limits under 100 claim one token
 * at a time and stay exact.
 */
const CLAIM_SHARE = 50;

/** A claim used up within this time (ms) makes the next one twice as large. */
const FAST_MS = 1000;

interface Lease {
  /** The minute (epoch ms / 60,000) the tokens belong to. */
  window: number;
  /** Tokens claimed and not yet used. */
  left: number;
  /** Tokens the next claim asks for. */
  size: number;
  /** When (epoch ms) the last claim was made. */
  claimedAt: number;
  /** The claim under way, which concurrent submissions wait for: false when it was refused. */
  pending: Promise<boolean> | null;
}

/**
 * The per-tenant submission limit (`RATE_LIMIT_PER_MINUTE`), shared by every API process through
 * one Redis counter per tenant and minute (fixed windows on the epoch minute).
 *
 * A process claims tokens from the counter, not one INCR per submission: one at a time at
 * first, twice as many each time it used the last claim up within a second (at most
 * `MAX_CLAIM`, and at most 2 % of the limit), so a tenant submitting hundreds per second costs
 * a Redis round trip every few dozen submissions, and a slow one exactly one per submission as
 * before. Tokens a process holds unused at the end of the minute are lost: another process can be
 * refused early by at most that many, never can more than the limit be accepted in a minute.
 */
export function createRateLimiter(deps: { redis: RedisClient; prefix: string; perMinute: number }) {
  const { redis, perMinute } = deps;
  const keys = globalKeys(deps.prefix);
  const maxClaim = Math.max(1, Math.min(MAX_CLAIM, Math.floor(perMinute / CLAIM_SHARE)));
  defineWindowCounter(redis);
  const leases = new Map<string, Lease>();

  async function claim(tenant: string, lease: Lease): Promise<boolean> {
    const now = Date.now();
    lease.size = lease.claimedAt && now - lease.claimedAt < FAST_MS ? Math.min(lease.size * 2, maxClaim) : 1;
    lease.claimedAt = now;
    let count: number;
    try {
      count = Number(await redis.relayqRateClaim(keys.rate(tenant, lease.window), 61, lease.size));
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    const granted = Math.max(0, Math.min(lease.size, perMinute - (count - lease.size)));
    lease.left += granted;
    return granted > 0;
  }

  return {
    /**
     * Takes one submission from the tenant's minute.
     * @throws RateLimitedError (with the seconds until the next minute) over the limit;
     * StoreUnavailableError when Redis fails.
     */
    async take(tenant: string): Promise<void> {
      for (;;) {
        const now = Date.now();
        const window = Math.floor(now / 60000);
        let lease = leases.get(tenant);
        if (!lease || lease.window !== window) {
          // Past minutes' leases are worthless; a bounded map, whatever the number of tenants.
          if (leases.size >= 10000) for (const [t, l] of leases) if (l.window !== window) leases.delete(t);
          lease = { window, left: 0, size: 1, claimedAt: 0, pending: null };
          leases.set(tenant, lease);
        }
        if (lease.left > 0) {
          lease.left--;
          return;
        }
        const current = lease;
        current.pending ??= claim(tenant, current).finally(() => {
          current.pending = null;
        });
        if (!(await current.pending)) throw new RateLimitedError(Math.max(1, Math.ceil(((window + 1) * 60000 - Date.now()) / 1000)));
      }
    },
  };
}

