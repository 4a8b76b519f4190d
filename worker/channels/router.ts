import { servesModel, type Channel, type ChannelType } from '../../shared/channels/config.js';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import type { ChannelState, Unavailable } from '../../shared/channels/state.js';
import type { TaskKind } from '../../shared/tasks/model.js';

/** What a call needs from a channel. */
export interface Need {
  type: ChannelType;
  kind: TaskKind;
  /** The model asked for; null when the protocol has none (MJ). */
  model: string | null;
}

/**
 * Where a call may go now: channels in the order to try (all of the highest priority that has a
 * healthy channel, the weighted pick first), or why none can take it.
 */
export type Route =
  /**
   * `unchecked`: the one channel that could serve, whose health was not read (taking its slot
   * reads it anyway: see `route`).
   */
  | { kind: 'channels'; channels: Channel[]; unchecked?: boolean }
  /**
   * No channel serving the need can take a call now: try again in `wait.waitMs`. `failing` when
   * every one of them is open (failing), not merely busy, cooling down or being probed;
   * `rateLimited` when the soonest is a 429 cool-down. `reason` names each channel and why.
   */
  | { kind: 'wait'; wait: Unavailable; failing: boolean; rateLimited: boolean; reason: string }
  /** No enabled channel serves the need at all (a configuration matter); `unknownModel` when some serve the type and kind, none the model. */
  | { kind: 'none'; reason: string; unknownModel: boolean }
  /** Channels serve it, but all of them are excluded (tried already). */
  | { kind: 'exhausted' };

/** How a channel's unavailability reads in an error or a log line ("a is open until 2026-…Z"). */
export function describeUnavailable(name: string, u: Unavailable, now = Date.now()): string {
  switch (u.reason) {
    case 'open':
      return `${name} is open until ${new Date(now + u.waitMs).toISOString()}`;
    case 'probing':
      return `${name} is being probed`;
    case 'trial':
      return `${name} is half-open, its trial call under way`;
    case 'cooldown':
      return `${name} is cooling down after a 429 until ${new Date(now + u.waitMs).toISOString()}`;
    case 'concurrency':
      return `${name} is at its concurrency limit`;
    case 'rpm':
      return `${name} is at its rpm limit`;
  }
}

export const describeNeed = (n: Need) => `${n.type} ${n.kind}${n.model ? ` model ${n.model}` : ''}`;

/**
 * Routing: the highest-priority tier with a healthy channel serving the type, kind and model;
 * within it, smooth weighted round-robin (nginx's), so traffic follows the weights closely even
 * over a few calls. The round-robin counters are this process's own: each worker follows the
 * weights, so all of them together do too. Health (circuit, 429 cool-down) comes from Redis.
 */
export function createRouter(deps: { registry: ChannelRegistry; state: ChannelState }) {
  const current = new Map<string, Map<string, number>>();

  /** The next channel of a tier by smooth weighted round-robin. */
  function weighted(tier: Channel[]): Channel {
    const key = tier.map((c) => c.name).join('\n');
    const cw = current.get(key) ?? new Map<string, number>();
    current.set(key, cw);
    const allZero = tier.every((c) => c.weight <= 0);
    const weightOf = (c: Channel) => (allZero ? 1 : Math.max(c.weight, 0));
    const total = tier.reduce((sum, c) => sum + weightOf(c), 0);
    let best: Channel = tier[0]!;
    for (const c of tier) {
      cw.set(c.name, (cw.get(c.name) ?? 0) + weightOf(c));
      if ((cw.get(c.name) ?? 0) > (cw.get(best.name) ?? 0)) best = c;
    }
    cw.set(best.name, (cw.get(best.name) ?? 0) - total);
    return best;
  }

  return {
    /**
     * Routes a call. `exclude`: channels never to use (tried by this call already); `avoid`:
     * channels used only when no other healthy one can serve (they failed this task before).
     * With `trustOnly`, when one channel alone could serve, it is returned `unchecked`, without a
     * read of its health: the caller takes its slot, which refuses an unhealthy channel with the
     * same reason, and then routes again without `trustOnly` (one Redis call fewer per call).
     */
    async route(need: Need, exclude: ReadonlySet<string>, avoid: ReadonlySet<string> = new Set(), opts: { trustOnly?: boolean } = {}): Promise<Route> {
      const ofType = deps.registry.ofType(need.type);
      const forKind = ofType.filter((c) => !c.kinds || c.kinds.includes(need.kind));
      const serving = forKind.filter((c) => c.enabled && servesModel(c, need.model));
      if (serving.length === 0) {
        const unknownModel = need.model !== null && forKind.some((c) => c.enabled);
        return { kind: 'none', unknownModel, reason: `no enabled channel serves ${describeNeed(need)}` };
      }
      const open = serving.filter((c) => !exclude.has(c.name));
      if (open.length === 0) return { kind: 'exhausted' };
      if (opts.trustOnly && open.length === 1) return { kind: 'channels', channels: open, unchecked: true };
      const health = await deps.state.usable(open);
      const healthy = open.filter((c) => !health.get(c.name));
      if (healthy.length === 0) {
        const now = Date.now();
        const all = open.map((c) => ({ name: c.name, u: health.get(c.name)! }));
        // Only open channels: failing. Otherwise wait for the soonest that ends on its own.
        const passing = all.filter((x) => x.u.reason !== 'open');
        const failing = passing.length === 0;
        const soonest = [...(failing ? all : passing)].sort((x, y) => x.u.waitMs - y.u.waitMs)[0]!.u;
        const disabled = forKind.filter((c) => !c.enabled && servesModel(c, need.model)).map((c) => `${c.name} is disabled`);
        // A failing channel's last error says what to fix.
        const last = failing ? await Promise.all(open.map((c) => deps.state.lastError(c))) : [];
        const states = all.map((x, i) => describeUnavailable(x.name, x.u, now) + (last[i] ? ` (last error: ${last[i]!.error.slice(0, 200)})` : '')).join(', ') + (disabled.length ? `; ${disabled.join(', ')}` : '');
        const reason = failing ? `no healthy channel: ${states}` : `every channel serving ${describeNeed(need)} is busy: ${states}`;
        return { kind: 'wait', wait: soonest, failing, rateLimited: soonest.reason === 'cooldown', reason };
      }
      // Channels that failed this task before serve it only when no other healthy one can.
      const fresh = healthy.filter((c) => !avoid.has(c.name));
      const pool = fresh.length > 0 ? fresh : healthy;
      const top = Math.max(...pool.map((c) => c.priority));
      const tier = pool.filter((c) => c.priority === top);
      const first = weighted(tier);
      // The rest of the tier follow, heaviest first, for when the pick is at its limits.
      const rest = tier.filter((c) => c !== first).sort((a, b) => b.weight - a.weight);
      return { kind: 'channels', channels: [first, ...rest] };
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
