import { storeCall } from '../../errors.js';
import { globalKeys } from '../../keys.js';
import type { RedisClient } from '../../redis.js';
import { nextMessage, type Signals } from '../../signals.js';

/** How long the merged model list is kept (s). */
export const MODELS_TTL_SECONDS = 300;

/**
 * The merged model list of the OpenAI channels, cached in Redis (`<prefix>:models`, JSON text of
 * `{object:"list", data:[…]}`): a worker writes it and announces it on the same key as a channel;
 * API nodes read it, asking a worker for it when it is missing.
 */
export function createModelsCache(deps: { redis: RedisClient; prefix: string }) {
  const key = globalKeys(deps.prefix).models;
  return {
    /** The cached list (JSON text), or null. */
    read: () => storeCall(() => deps.redis.get(key)),
    /** Stores a fresh list and wakes the API calls waiting for it. */
    async write(listJson: string): Promise<void> {
      await deps.redis.multi().set(key, listJson, 'EX', MODELS_TTL_SECONDS).publish(key, 'ready').exec();
    },
    /** Runs `ask` (which asks a worker for the list) while listening for the answer, up to `ms`. */
    async refresh(signals: Signals, ms: number, ask: () => Promise<void>): Promise<string | null> {
      await nextMessage(signals, key, ms, ask);
      return storeCall(() => deps.redis.get(key));
    },
  };
}

export type ModelsCache = ReturnType<typeof createModelsCache>;
