import { storeCall } from '../errors.js';
import { parseTaskId } from '../ids.js';
import { globalKeys, keyspace } from '../keys.js';
import type { RedisClient } from '../redis.js';

/** How long (s) a count of readers outlives its last change. */
const READERS_TTL_SECONDS = 24 * 3600;
// In one step, so a reader counted in between is never deleted with the key.
const DETACH_LUA = "local n = redis.call('DECR', KEYS[1]) if n <= 0 then redis.call('DEL', KEYS[1]) end return n";

/** One entry of a token stream: a chunk to relay as it came, or the end of a complete answer. */
export type TokenEntry = { id: string; kind: 'data'; data: string } | { id: string; kind: 'end' };

/**
 * The token stream of a streaming task (a Redis stream under the task's hash tag,
 * `<prefix>:{queue}:tokens:<id>`): the worker appends each upstream chunk as it comes and, once
 * the task holds the whole answer, the end marker; any API node reads it from any point, so a
 * client that reconnects gets the whole answer again. Appends announce themselves on the task's
 * channel. Entries live `ttlSeconds` after the last append. The API also counts the clients
 * reading a stream (`<prefix>:{queue}:readers:<id>`), so a node can tell whether anyone, on any
 * node, still reads an answer a client left.
 */
export function createTokenStreams(deps: { redis: RedisClient; prefix: string; ttlSeconds?: number }) {
  const { redis } = deps;
  const ttl = deps.ttlSeconds ?? 3600;
  const keysOf = (taskId: string) => {
    const p = parseTaskId(taskId);
    if (!p) throw new Error(`not a task id: ${taskId}`);
    return keyspace(deps.prefix, p);
  };
  const keyOf = (taskId: string) => keysOf(taskId).tokens(taskId);
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
    /**
     * Counts a client that starts reading the stream (on any API node); resolves to the count with
     * it. The count lives a day at most, so a node that died while serving leaves no count forever.
     */
    async attach(taskId: string): Promise<number> {
      const key = keysOf(taskId).readers(taskId);
      const res = await storeCall(() => redis.multi().incr(key).expire(key, READERS_TTL_SECONDS).exec());
      return Number(res?.[0]?.[1] ?? 0);
    },
    /** Uncounts a client that stopped reading; resolves to how many still read (the count goes at 0). */
    async detach(taskId: string): Promise<number> {
      return Number(await storeCall(() => redis.eval(DETACH_LUA, 1, keysOf(taskId).readers(taskId))));
    },
    /** How many clients read the stream now. */
    async readers(taskId: string): Promise<number> {
      return Number((await storeCall(() => redis.get(keysOf(taskId).readers(taskId)))) ?? 0);
    },
    /** Up to `count` entries after `after` (`-` for the first), oldest first. */
    async read(taskId: string, after: string, count: number): Promise<TokenEntry[]> {
      const entries = await storeCall(() => redis.xrange(keyOf(taskId), after === '-' ? '-' : `(${after}`, '+', 'COUNT', count));
      return entries.map(([id, kv]) => (kv[0] === 'end' ? { id, kind: 'end' as const } : { id, kind: 'data' as const, data: kv[1] ?? '' }));
    },
  };
}

export type TokenStreams = ReturnType<typeof createTokenStreams>;
