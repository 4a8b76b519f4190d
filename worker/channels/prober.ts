import type { Channel, ChannelType } from '../../shared/channels/config.js';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import type { ChannelState } from '../../shared/channels/state.js';
import { createLockedLoop } from '../../shared/loop.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisClient } from '../../shared/redis.js';

/** One cheap request that tells whether a channel answers again; rejects when it does not. */
export type Probe = (channel: Channel) => Promise<unknown>;

/** How long one probe may take before it counts as failed (ms). */
const PROBE_MS = 5000;

/** How long a probe's claim holds other probers off (ms): the probe's own limit and a margin to report it. */
const CLAIM_MS = PROBE_MS + 1000;

/**
 * Brings failing channels back. A channel whose circuit opened gets no traffic at all; once its
 * cool-down is over, one worker (a Redis lock per tick, a claim per channel) sends it the type's
 * probe — a cheap read such as `GET /v1/models`. When it answers the channel turns half-open: the
 * next call is its one trial, and only when that call succeeds is it back in rotation. When it
 * does not answer it stays open for a longer cool-down.
 */
export function createProber(deps: { redis: RedisClient; lockKey: string; registry: ChannelRegistry; state: ChannelState; probes: Partial<Record<ChannelType, Probe>>; log: Logger; intervalMs?: number }) {
  async function probe(channel: Channel) {
    const run = deps.probes[channel.type];
    if (!run || !(await deps.state.claimProbe(channel, CLAIM_MS))) return;
    try {
      await Promise.race([run(channel), new Promise((_, reject) => setTimeout(() => reject(new Error(`probe timed out after ${PROBE_MS / 1000} s`)), PROBE_MS).unref())]);
      await deps.state.probed(channel, true, '');
      deps.log.info({ channel: channel.name }, 'channel answered its probe; half-open: its next call is a trial');
    } catch (err) {
      await deps.state.probed(channel, false, `probe failed: ${(err as Error).message}`);
      deps.log.info({ channel: channel.name, reason: (err as Error).message }, 'channel still failing its probe');
    }
  }
  return createLockedLoop({
    redis: deps.redis,
    lockKey: deps.lockKey,
    intervalMs: deps.intervalMs ?? 500,
    log: deps.log,
    name: 'channel prober',
    async tick() {
      const channels = deps.registry.all().filter((c) => c.enabled);
      const health = await deps.state.usable(channels);
      // The claim decides whether a probe is due (cool-down over, no other probe under way).
      await Promise.all(channels.filter((c) => ['open', 'probing'].includes(health.get(c.name)?.reason ?? '')).map(probe));
    },
  });
}
