import { randomUUID } from 'node:crypto';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis.js';

/**
 * Runs `tick` every `intervalMs` in every process, but in only one of them per interval: the
 * first to take the Redis lock (held for one interval, never released early) does the work.
 * State lives in Redis, so any process can take over at the next tick.
 */
export function createLockedLoop(deps: { redis: RedisClient; lockKey: string; intervalMs: number; log: Logger; name: string; tick: () => Promise<void> }) {
  const owner = randomUUID();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;

  /** One round, if this process holds the lock for it. */
  async function tickOnce(): Promise<boolean> {
    if ((await deps.redis.set(deps.lockKey, owner, 'PX', deps.intervalMs, 'NX')) !== 'OK') return false;
    await deps.tick();
    return true;
  }

  const loop = () => {
    if (stopped) return;
    running = tickOnce()
      .then(() => undefined)
      .catch((err: unknown) => deps.log.warn({ err }, `${deps.name} tick failed`))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(loop, deps.intervalMs);
      });
  };

  return {
    tick: tickOnce,
    start() {
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
