import { storeCall } from '../errors.js';
import { parseTaskId } from '../ids.js';
import { globalKeys, keyspace } from '../keys.js';
import type { RedisClient } from '../redis.js';

/** One entry of a token stream: a chunk to relay as it came, or the end of a complete answer. */
export type TokenEntry = { id: string; kind: 'data'; data: string } | { id: string; kind: 'end' };

/**
 * The token stream of a streaming task (a Redis stream under the task's hash tag,
 * `<prefix>:{queue}:tokens:<id>`): the worker appends each upstream chunk as it comes and, once
 * the task holds the whole answer, the end marker; any API node reads it from any point, so a
 * client that reconnects gets the whole answer again. Appends announce themselves on the task's
 * channel. Entries live `ttlSeconds` after the last append.
 */
export function createTokenStreams(deps: { redis: RedisClient; prefix: string; ttlSeconds?: number }) {
  const { redis } = deps;
  const ttl = deps.ttlSeconds ?? 3600;
  const keyOf = (taskId: string) => {
    const p = parseTaskId(taskId);
    if (!p) throw new Error(`not a task id: ${taskId}`);
    return keyspace(deps.prefix, p).tokens(taskId);
  };
  const append = async (taskId: string, fields: string[]) => {
    const key = keyOf(taskId);
    await redis.multi().xadd(key, '*', ...fields).expire(key, ttl).publish(globalKeys(deps.prefix).taskChannel(taskId), fields[0]!).exec();
  };
  return {
    /** Appends one chunk (its `data:` text, as the upstream sent it). */
    chunk: (taskId: string, data: string) => append(taskId, ['d', data]),
    /** Marks the answer complete: readers send the end of stream after it. */
    end: (taskId: string) => append(taskId, ['end', '1']),
    /** How many entries the stream holds (a re-run must not append a second answer). */
    length: (taskId: string) => storeCall(() => redis.xlen(keyOf(taskId))),
    /** Up to `count` entries after `after` (`-` for the first), oldest first. */
    async read(taskId: string, after: string, count: number): Promise<TokenEntry[]> {
      const entries = await storeCall(() => redis.xrange(keyOf(taskId), after === '-' ? '-' : `(${after}`, '+', 'COUNT', count));
      return entries.map(([id, kv]) => (kv[0] === 'end' ? { id, kind: 'end' as const } : { id, kind: 'data' as const, data: kv[1] ?? '' }));
    },
  };
}

export type TokenStreams = ReturnType<typeof createTokenStreams>;
