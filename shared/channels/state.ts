import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import { storeCall } from '../errors.js';
import type { RedisClient } from '../redis.js';
import type { Channel } from './config.js';

const LUA = readFileSync(new URL('./state.lua', import.meta.url), 'utf8');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    relayqChannel(...args: (string | number)[]): Result<unknown, Context>;
  }
}

/**
 * Circuit breaker settings: this many consecutive failures open a channel; it is then probed
 * after a cool-down that starts at BASE and doubles with each failed probe, up to MAX.
 */
export const CIRCUIT = { failures: 3, baseMs: 1000, maxMs: 30_000 } as const;
/**
 * A lease on a concurrency slot lasts this long unless renewed; the holder renews it while its
 * call runs, so a worker that dies gives its slots back within this time.
 */
export const LEASE_MS = 30_000;

/**
 * Why a channel cannot take a call now, and for how long at least (ms):
 * - `open`: failing (its circuit opened after failures in a row); no call until its cool-down ends;
 * - `probing`: the cool-down is over and one worker's probe is under way (or about to be);
 * - `trial`: half-open after a good probe, and its one trial call is under way;
 * - `cooldown`: a 429 asked every worker to wait; `concurrency`, `rpm`: at its limits.
 * Only `open` says the channel is unwell; the others end on their own within `waitMs` or so.
 */
export interface Unavailable {
  reason: 'open' | 'probing' | 'trial' | 'cooldown' | 'concurrency' | 'rpm';
  waitMs: number;
}

/** One remembered failure of a channel (newest first in `recent_errors`). */
export interface ChannelError {
  at: number;
  error: string;
  status: number | null;
}

/** A channel as admins see it at `GET /admin/channels`: the file's settings and the shared state. */
export interface ChannelView {
  name: string;
  type: Channel['type'];
  base_url: string;
  enabled: boolean;
  priority: number;
  weight: number;
  models: string[] | null;
  kinds: string[] | null;
  limits: { concurrency: number | null; rpm: number | null };
  /**
   * `healthy`, `cooling_down` (after a 429), `open` (failing: only probes reach it), `half_open`
   * (answered its probe: one trial call decides whether it is healthy again), or `disabled`.
   */
  state: 'healthy' | 'cooling_down' | 'open' | 'half_open' | 'disabled';
  in_flight: number;
  rpm_used: number;
  /** Failures in a row of its calls, or of the tracker's progress reads of it (counted apart), whichever is more. */
  consecutive_failures: number;
  cooldown_until: number | null;
  open_until: number | null;
  recent_errors: ChannelError[];
}

/**
 * The Redis protocol of channel state, shared by every worker (and read by the API for admins).
 * Keys per channel, under the channel's own hash tag so each operation is one Lua step in one
 * Redis Cluster slot: `<prefix>:{ch:<name>}:state|leases|calls|errors`.
 */
export function createChannelState(deps: { redis: RedisClient; prefix: string }) {
  const { redis } = deps;
  redis.defineCommand('relayqChannel', { numberOfKeys: 4, lua: LUA });
  const keys = (name: string) => {
    const base = `${deps.prefix}:{ch:${name}}`;
    return [`${base}:state`, `${base}:leases`, `${base}:calls`, `${base}:errors`];
  };
  const run = (name: string, ...args: (string | number)[]) => storeCall(() => redis.relayqChannel(...keys(name), ...args));
  const errorJson = (error: string, status: number | null) => JSON.stringify({ at: Date.now(), error: error.slice(0, 300), status });

  return {
    /**
     * Takes a slot for one call (`leaseId` unique per call): refused while the circuit is open, in
     * a 429 cool-down, at the concurrency limit or at the rpm limit (calls started in the last 60 s).
     */
    async acquire(channel: Channel, leaseId: string): Promise<Unavailable | null> {
      const [ok, waitMs, reason] = (await run(channel.name, 'acquire', leaseId, LEASE_MS, channel.concurrency ?? 0, channel.rpm ?? 0)) as [number, number, string];
      return ok === 1 ? null : { reason: reason as Unavailable['reason'], waitMs: Number(waitMs) };
    },
    /** Keeps a slot while its call runs (call every LEASE_MS / 3). */
    renew: (channel: Channel, leaseId: string) => run(channel.name, 'renew', leaseId, LEASE_MS),
    release: (channel: Channel, leaseId: string) => run(channel.name, 'release', leaseId),
    /** A call (`leaseId`, its slot) succeeded: failures in a row back to 0; a half-open channel whose trial this was is healthy again. */
    succeeded: (channel: Channel, leaseId = '') => run(channel.name, 'succeeded', leaseId),
    /** `succeeded` and `release` of the call's slot in one step. */
    succeededAndReleased: (channel: Channel, leaseId: string) => run(channel.name, 'succeeded', leaseId, 'release'),
    /**
     * A failure that says the channel is unwell (5xx, timeout, reset, refused key): counts toward
     * opening it, and reopens a half-open one (doubled cool-down). Resolves true when it opened.
     */
    async failed(channel: Channel, error: string, status: number | null, leaseId = ''): Promise<boolean> {
      return (await run(channel.name, 'failed', errorJson(error, status), CIRCUIT.failures, CIRCUIT.baseMs, CIRCUIT.maxMs, leaseId)) === 1;
    },
    /**
     * The tracker's progress reads of the channel in one tick: `ok` when they answered, else a
     * failure that says the channel is unwell (`error`, `status`). Counted apart from calls (their
     * own failures in a row; a success resets only that count), so frequent good reads never hide
     * failing calls, nor good calls failing reads; CIRCUIT.failures failed ticks in a row open the
     * channel. A read never ends an open circuit; a good one closes a half-open circuit when no
     * trial call is under way, a failed one reopens it. Resolves true when it opened.
     */
    async read(channel: Channel, ok: boolean, error = '', status: number | null = null): Promise<boolean> {
      return (await run(channel.name, 'read', ok ? '1' : '0', errorJson(error, status), CIRCUIT.failures, CIRCUIT.baseMs, CIRCUIT.maxMs)) === 1;
    },
    /** A 429: no worker calls the channel for `coolMs`. */
    limited: (channel: Channel, error: string, coolMs: number) => run(channel.name, 'limited', errorJson(error, 429), Math.max(1, Math.round(coolMs))),
    /** Whether the caller should probe an open channel now (only one caller wins; its claim holds others off for `probeMs`). */
    async claimProbe(channel: Channel, probeMs: number): Promise<boolean> {
      return (await run(channel.name, 'claim-probe', probeMs)) === 1;
    },
    /** The probe's outcome: a good one makes the channel half-open (one trial call), a bad one reopens it for a doubled cool-down. */
    probed: (channel: Channel, ok: boolean, error: string) => run(channel.name, 'probed', ok ? '1' : '0', errorJson(error, null), CIRCUIT.baseMs, CIRCUIT.maxMs),

    /** Which of these channels may be routed to now: null, or why not (health only: limits are checked when a slot is taken). */
    async usable(channels: Channel[]): Promise<Map<string, Unavailable | null>> {
      if (channels.length === 0) return new Map();
      const rows = (await Promise.all(channels.map((c) => run(c.name, 'peek')))) as [number, number, string][];
      return new Map<string, Unavailable | null>(channels.map((c, i): [string, Unavailable | null] => [c.name, rows[i]![0] === 1 ? null : { reason: rows[i]![2] as Unavailable['reason'], waitMs: Number(rows[i]![1]) }]));
    },

    /** The channel's most recent failure, or null when none is remembered (within a day). */
    async lastError(channel: Channel): Promise<ChannelError | null> {
      const raw = await storeCall(() => redis.lindex(keys(channel.name)[3]!, 0));
      return raw ? (JSON.parse(raw) as ChannelError) : null;
    },

    /** Every channel's settings and state, for admins. */
    async view(channels: Channel[]): Promise<ChannelView[]> {
      const now = Date.now();
      return storeCall(() =>
        Promise.all(
          channels.map(async (c): Promise<ChannelView> => {
            const [state, leases, calls, errors] = keys(c.name) as [string, string, string, string];
            const [s, inFlight, rpmUsed, recent] = await Promise.all([
              redis.hgetall(state),
              redis.zcount(leases, now, '+inf'),
              redis.zcount(calls, now - 60_000, '+inf'),
              redis.lrange(errors, 0, 9),
            ]);
            const open = s.open === '1';
            const cooldown = Number(s.cooldown_until ?? 0) > now ? Number(s.cooldown_until) : null;
            return {
              name: c.name,
              type: c.type,
              base_url: c.baseUrl,
              enabled: c.enabled,
              priority: c.priority,
              weight: c.weight,
              models: c.models,
              kinds: c.kinds,
              limits: { concurrency: c.concurrency, rpm: c.rpm },
              state: !c.enabled ? 'disabled' : open ? 'open' : cooldown ? 'cooling_down' : s.half === '1' ? 'half_open' : 'healthy',
              in_flight: inFlight,
              rpm_used: rpmUsed,
              consecutive_failures: Math.max(Number(s.failures ?? 0), Number(s.read_failures ?? 0)),
              cooldown_until: cooldown,
              open_until: open ? Number(s.open_until ?? 0) : null,
              recent_errors: recent.map((r) => JSON.parse(r) as ChannelError),
            };
          }),
        ),
      );
    },
  };
}

export type ChannelState = ReturnType<typeof createChannelState>;
