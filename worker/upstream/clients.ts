import type { Channel } from '../../shared/channels/config.js';

/**
 * A protocol client per channel, made on first use and made again when a reload changed the
 * channel (its URL, key or timeout). `make` gets the channel and its idle timeout in ms: the
 * channel's `timeoutSeconds`, else `defaultTimeoutSeconds` (UPSTREAM_TIMEOUT_SECONDS).
 */
export function createClientCache<C>(defaultTimeoutSeconds: number, make: (channel: Channel, timeoutMs: number) => C): (channel: Channel) => C {
  const cache = new Map<string, { signature: string; client: C }>();
  return (channel) => {
    const signature = `${channel.type}\n${channel.baseUrl}\n${channel.key}\n${channel.timeoutSeconds}`;
    const hit = cache.get(channel.name);
    if (hit?.signature === signature) return hit.client;
    const client = make(channel, (channel.timeoutSeconds ?? defaultTimeoutSeconds) * 1000);
    cache.set(channel.name, { signature, client });
    return client;
  };
}
