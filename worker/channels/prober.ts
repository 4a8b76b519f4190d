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

/**
 * Brings failing channels back. A channel whose circuit opened gets no traffic at all; once its
 * cool-down is over, one worker (a Redis lock per tick, a claim per channel) sends it the type's
 * probe — a cheap read such as `GET /v1/models` — and closes the circuit when it answers, or
 * keeps it open for a longer cool-down when it does not.
 */
export function createProber(deps: { redis: RedisClient; lockKey: string; registry: ChannelRegistry; state: ChannelState; probes: Partial<Record<ChannelType, Probe>>; log: Logger; intervalMs?: number }) {
  async function probe(channel: Channel) {
    const run = deps.probes[channel.type];
    if (!run || !(await deps.state.claimProbe(channel, PROBE_MS * 2))) return;
    try {
      await Promise.race([run(channel), new Promise((_, reject) => setTimeout(() => reject(new Error(`probe timed out after ${PROBE_MS / 1000} s`)), PROBE_MS).unref())]);
      await deps.state.probed(channel, true, '');
      deps.log.info({ channel: channel.name }, 'channel answered its probe; back in rotation');
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
      await Promise.all(channels.filter((c) => health.get(c.name)?.reason === 'open' && health.get(c.name)!.waitMs === 0).map(probe));
    },
  });
}
