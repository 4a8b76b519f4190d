import type { Channel } from '../../shared/channels/config.js';
import type { Logger } from '../../shared/logger.js';

/** Whether a URL names this machine: `localhost` (and `*.localhost`), 127.0.0.0/8 or `[::1]`. */
export function isLoopbackUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const host = new URL(url).hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
}

/**
 * The enabled channels that would call an upstream on another machine without a key: a blank
 * OPENAI_UPSTREAM_KEY next to `https://api.openai.com/v1` (as .env.example ships) fails every
 * call with a 401 only once work arrives. A local upstream (the simulator, a proxy on this
 * machine) often needs no key.
 */
export function keylessRemoteChannels(channels: readonly Channel[]): Channel[] {
  return channels.filter((c) => c.enabled && c.key === '' && !isLoopbackUrl(c.baseUrl));
}

/** One warning line per keyless remote channel (keylessRemoteChannels), naming it and its host. */
export function warnKeylessChannels(channels: readonly Channel[], log: Logger): void {
  for (const c of keylessRemoteChannels(channels)) {
    log.warn(
      { channel: c.name, type: c.type, host: new URL(c.baseUrl).host },
      'upstream channel has an empty key: its calls go out without credentials (set its key, e.g. OPENAI_UPSTREAM_KEY or MJ_UPSTREAM_SECRET, unless that upstream needs none)',
    );
  }
}
