import { randomFillSync } from 'node:crypto';
import type { QueueName } from './config.js';
import { QUEUE_NAMES } from './families/catalog.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LEN = 20; // 62^20 ≈ 2^119: unguessable

/** Cryptographically random bytes, drawn 4 KiB at a time (one call to the CSPRNG per ~100 ids, not per id). */
const pool = Buffer.alloc(4096);
let used = pool.length;

function random(len: number): string {
  // Rejection sampling keeps every character equally likely.
  let out = '';
  while (out.length < len) {
    if (used === pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    const byte = pool[used++]!;
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

/** Where a task lives: its queue and shard, i.e. its Redis hash tag. */
export interface Placement {
  queue: QueueName;
  shard: number;
}

/**
 * A task id carries its placement, so reading a task needs no lookup table:
 * `mj_<20 random>` for shard 0, `mj3_<20 random>` for shard 3. URL-safe, 23–28 characters,
 * no `:` (BullMQ job ids reuse it) and never all digits.
 */
export function newTaskId(p: Placement): string {
  return `${p.queue}${p.shard === 0 ? '' : p.shard}_${random(RANDOM_LEN)}`;
}

const ID_RE = /^([a-z]+)([1-9]\d{0,2})?_[0-9A-Za-z]{20}$/;

/** The placement of a task id, or null when it is not one of ours (→ 404, never a throw). */
export function parseTaskId(id: string): Placement | null {
  const m = ID_RE.exec(id);
  if (!m) return null;
  const queue = m[1] as QueueName;
  if (!QUEUE_NAMES.includes(queue)) return null;
  return { queue, shard: m[2] ? Number(m[2]) : 0 };
}

export function randomToken(len = 32): string {
  return random(len);
}
