/**
 * Compact stored forms of task fields: what a task record keeps in Redis in place of a value, to
 * keep it small (a finished task stays for TASK_RETENTION_SECONDS). A form gives the value back
 * from what it stored, and from a plain value too (records stored before the form existed). The
 * store keeps a packed form only when it gives the value back exactly (the same JSON text);
 * otherwise it keeps the plain value.
 */
export interface StoredForm {
  /** What to store in place of `value` (anything JSON; `value` itself when there is nothing to gain). */
  pack(value: unknown): unknown;
  /** The value from what was stored: a packed form or a plain value. */
  unpack(stored: unknown): unknown;
}

/** A default as a value of its own: objects and lists copied (the value read may be changed), anything else as it is. */
const fresh = (v: unknown): unknown => (typeof v === 'object' && v !== null ? structuredClone(v) : v);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An object stored without the keys that hold their default. `order` is the order of the object's
 * keys (keys it does not name come after them); `defaults` the keys that may be left out, with
 * their default. Only keys whose absence always means the default may have one (never an optional
 * key). Values that are not objects (null) are kept as they are.
 */
export function defaultsForm(order: readonly string[], defaults: Record<string, unknown>): StoredForm {
  const named = new Set(order);
  const json = new Map(Object.entries(defaults).map(([k, v]) => [k, JSON.stringify(v)]));
  return {
    pack(value) {
      if (!isPlainObject(value)) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) if (json.get(k) !== JSON.stringify(v)) out[k] = v;
      return out;
    },
    unpack(stored) {
      if (!isPlainObject(stored)) return stored;
      const out: Record<string, unknown> = {};
      for (const k of order) {
        if (k in stored) out[k] = stored[k];
        else if (json.has(k)) out[k] = fresh(defaults[k]);
      }
      for (const [k, v] of Object.entries(stored)) if (!named.has(k)) out[k] = v;
      return out;
    },
  };
}

/** A list whose items are stored in `item`'s form; anything but a list is kept as it is. */
export function listForm(item: StoredForm): StoredForm {
  return {
    pack: (value) => (Array.isArray(value) ? value.map((v) => item.pack(v)) : value),
    unpack: (stored) => (Array.isArray(stored) ? stored.map((v) => item.unpack(v)) : stored),
  };
}
