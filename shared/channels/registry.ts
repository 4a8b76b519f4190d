import { loadChannels, type Config } from '../config.js';
import { rememberSecrets } from '../redact.js';
import type { Logger } from '../logger.js';
import { ChannelFileError, type Channel, type ChannelType } from './config.js';

/**
 * The channels a process works with. `reload` swaps the list (SIGHUP re-reads UPSTREAMS_FILE)
 * without touching work in flight: a call holds the Channel object it started with, and tasks
 * refer to channels by name. `extra` channels (the simulator `npm start` adds) survive reloads.
 */
export interface ChannelRegistry {
  all(): readonly Channel[];
  /** The channel with this name, enabled or not; undefined when it is not configured (any more). */
  get(name: string): Channel | undefined;
  ofType(type: ChannelType): Channel[];
  /**
   * Replaces the configured channels (and, when given, the extra ones that survive reloads);
   * returns what changed, by name.
   */
  reload(channels: Channel[], extra?: Channel[]): { added: string[]; removed: string[]; changed: string[] };
  /** Calls `fn` after every reload. */
  onReload(fn: () => void): void;
}

export function createChannelRegistry(initial: Channel[], initialExtra: Channel[] = []): ChannelRegistry {
  let extra = initialExtra;
  let channels: Channel[] = [...initial, ...extra];
  // Upstreams quote keys back in their refusals: every key is kept out of relayed text.
  rememberSecrets(channels.map((c) => c.key));
  const listeners: (() => void)[] = [];
  return {
    all: () => channels,
    get: (name) => channels.find((c) => c.name === name),
    ofType: (type) => channels.filter((c) => c.type === type),
    reload(next, nextExtra) {
      if (nextExtra) extra = nextExtra;
      const before = new Map(channels.map((c) => [c.name, JSON.stringify(c)]));
      channels = [...next, ...extra.filter((e) => !next.some((c) => c.name === e.name))];
      rememberSecrets(channels.map((c) => c.key));
      const after = new Map(channels.map((c) => [c.name, JSON.stringify(c)]));
      const diff = {
        added: [...after.keys()].filter((n) => !before.has(n)),
        removed: [...before.keys()].filter((n) => !after.has(n)),
        changed: [...after.keys()].filter((n) => before.has(n) && before.get(n) !== after.get(n)),
      };
      for (const fn of listeners) fn();
      return diff;
    },
    onReload(fn) {
      listeners.push(fn);
    },
  };
}

/**
 * Re-reads the channels (SIGHUP): a file with mistakes is refused as a whole and the current
 * channels stay; work in flight keeps the channel it started on.
 */
export function reloadChannels(config: Config, registry: ChannelRegistry, log: Logger): void {
  try {
    const diff = registry.reload(loadChannels(config));
    log.info(diff, 'channels reloaded');
  } catch (err) {
    if (!(err instanceof ChannelFileError)) throw err;
    log.error({ file: err.file, problems: err.problems }, 'channel file refused on reload; keeping the current channels');
  }
}
