import { Redis } from 'ioredis';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { coalesceWrites } from '../../shared/redis.js';

/** Counts the writes a connection's socket hands to the system (one `_write` or `_writev` each). */
function countWrites(redis: Redis): () => number {
  const socket = redis.stream as Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
  let writes = 0;
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  socket._write = (...a: unknown[]) => (writes++, write(...a));
  if (writev) socket._writev = (...a: unknown[]) => (writes++, writev(...a));
  return () => writes;
}

describe('coalesced Redis writes', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'), { lazyConnect: true });
    await redis.connect();
  });
  afterAll(() => redis.quit());

  it('sends the commands of one tick in one write, in order, and those of the next tick in the next', async () => {
    coalesceWrites(redis);
    const writes = countWrites(redis);
    const key = `coalesce-${process.pid}`;
    const first = await Promise.all([redis.del(key), redis.rpush(key, 'a'), redis.rpush(key, 'b'), redis.lrange(key, 0, -1)]);
    expect(first).toEqual([expect.any(Number), 1, 2, ['a', 'b']]);
    expect(writes()).toBe(1);
    expect(await Promise.all([redis.rpush(key, 'c'), redis.del(key)])).toEqual([3, 1]);
    expect(writes()).toBe(2);
  });
});
