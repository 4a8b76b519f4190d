import type { RedisClient } from './redis.js';

/**
 * Redis pub/sub between processes: cancel requests reach the worker that holds a job, and
 * waiters on a task (image-seed, later sync calls and SSE) hear when it changed. One subscriber
 * connection per process, shared by every subscription.
 */
export interface Signals {
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; returns the function that ends it. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function createSignals(deps: { pub: RedisClient; sub: RedisClient }): Signals {
  const handlers = new Map<string, Set<(message: string) => void>>();
  deps.sub.on('message', (channel: string, message: string) => {
    for (const h of handlers.get(channel) ?? []) h(message);
  });
  return {
    async publish(channel, message) {
      await deps.pub.publish(channel, message);
    },
    async subscribe(channel, handler) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await deps.sub.subscribe(channel);
      }
      set.add(handler);
      return async () => {
        const s = handlers.get(channel);
        if (!s) return;
        s.delete(handler);
        if (s.size === 0) {
          handlers.delete(channel);
          await deps.sub.unsubscribe(channel).catch(() => undefined);
        }
      };
    },
    async close() {
      handlers.clear();
    },
  };
}

/** Waits for the first message on a channel, up to `ms`; resolves null on timeout. */
export async function nextMessage(signals: Signals, channel: string, ms: number, start: () => Promise<void>): Promise<string | null> {
  let done: (m: string | null) => void = () => undefined;
  const result = new Promise<string | null>((resolve) => (done = resolve));
  // Listen before starting the work, so a fast answer cannot be missed.
  const stop = await signals.subscribe(channel, (m) => done(m));
  const timer = setTimeout(() => done(null), ms);
  try {
    await start();
    return await result;
  } finally {
    clearTimeout(timer);
    await stop();
  }
}
