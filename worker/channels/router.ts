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
  | { kind: 'channels'; channels: Channel[] }
  /** Every channel that serves the need is unhealthy or cooling down: try again in `waitMs`. */
  | { kind: 'wait'; wait: Unavailable }
  /** No enabled channel serves the need at all (a configuration matter). */
  | { kind: 'none'; reason: string }
  /** Channels serve it, but all of them are excluded (tried already). */
  | { kind: 'exhausted' };

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
    async route(need: Need, exclude: ReadonlySet<string>): Promise<Route> {
      const serving = deps.registry
        .ofType(need.type)
        .filter((c) => c.enabled && (!c.kinds || c.kinds.includes(need.kind)) && servesModel(c, need.model));
      if (serving.length === 0) return { kind: 'none', reason: `no enabled channel serves ${describeNeed(need)}` };
      const open = serving.filter((c) => !exclude.has(c.name));
      if (open.length === 0) return { kind: 'exhausted' };
      const health = await deps.state.usable(open);
      const healthy = open.filter((c) => !health.get(c.name));
      if (healthy.length === 0) {
        const soonest = open.map((c) => health.get(c.name)!).sort((a, b) => a.waitMs - b.waitMs)[0]!;
        return { kind: 'wait', wait: soonest };
      }
      const top = Math.max(...healthy.map((c) => c.priority));
      const tier = healthy.filter((c) => c.priority === top);
      const first = weighted(tier);
      // The rest of the tier follow, heaviest first, for when the pick is at its limits.
      const rest = tier.filter((c) => c !== first).sort((a, b) => b.weight - a.weight);
      return { kind: 'channels', channels: [first, ...rest] };
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
