import type { Channel } from '../../shared/channels/config.js';
import type { Logger } from '../../shared/logger.js';
import { createMjClient, type MjClient } from './mj-client.js';
import { createOpenAiClient, type OpenAiClient } from './openai-client.js';

/**
 * The protocol client of each channel, made on first use and made again when a reload changed
 * the channel (its URL, key or timeout). The idle timeout is the channel's `timeoutSeconds`, else
 * UPSTREAM_TIMEOUT_SECONDS; a whole (non-stream) OpenAI answer may take `answerWaitSeconds`
 * (SYNC_WAIT_SECONDS) to start, as long as a plain client would wait for it.
 */
export function createClients(deps: { defaultTimeoutSeconds: number; answerWaitSeconds: number; log: Logger }) {
  const cache = new Map<string, { signature: string; client: MjClient | OpenAiClient }>();
  function get<C extends MjClient | OpenAiClient>(channel: Channel, make: (timeoutMs: number) => C): C {
    const signature = `${channel.type}\n${channel.baseUrl}\n${channel.key}\n${channel.timeoutSeconds}`;
    const hit = cache.get(channel.name);
    if (hit?.signature === signature) return hit.client as C;
    const client = make((channel.timeoutSeconds ?? deps.defaultTimeoutSeconds) * 1000);
    cache.set(channel.name, { signature, client });
    return client;
  }
  return {
    mj: (channel: Channel) => get(channel, (ms) => createMjClient({ name: channel.name, baseUrl: channel.baseUrl, secret: channel.key }, ms, deps.log.child({ channel: channel.name }))),
    openai: (channel: Channel) => get(channel, (ms) => createOpenAiClient({ name: channel.name, baseUrl: channel.baseUrl, key: channel.key }, ms, deps.answerWaitSeconds * 1000)),
  };
}

export type Clients = ReturnType<typeof createClients>;
