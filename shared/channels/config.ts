import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FAMILIES, TASK_KINDS, type TaskKind } from '../families/catalog.js';

/** The protocols a channel can speak: the channel types of the catalog's families (`mj`, `openai`, …). */
export const CHANNEL_TYPES = [...new Set(FAMILIES.map((f) => f.channelType))] as unknown as readonly [string, ...string[]];
export type ChannelType = string;

/**
 * One upstream account or provider relayq may send work to. Limits and health are shared by
 * every worker through Redis (shared/channels/state.ts); this is only what the file says.
 */
export interface Channel {
  /** Unique among all channels; tasks record it, so renaming one strands its tasks. */
  name: string;
  type: ChannelType;
  /** Base URL: OpenAI-compatible ones include `/v1`; the others are the server root. */
  baseUrl: string;
  /** The upstream credential (`mj-api-secret` for MJ, a bearer key otherwise); never logged. */
  key: string;
  /** Models served (exact names, or a prefix ending in `*`); null serves every model. */
  models: string[] | null;
  /** Task kinds served; null serves every kind of the channel's type. */
  kinds: TaskKind[] | null;
  /** A larger number is preferred (as in new-api). */
  priority: number;
  /** Share of the traffic within its priority. */
  weight: number;
  /** Calls in flight at once, across all workers; null for no limit. */
  concurrency: number | null;
  /** At most this many calls in any 60 s window, across all workers; null for no limit. */
  rpm: number | null;
  /** Idle timeout of one call to this channel, in seconds; null for UPSTREAM_TIMEOUT_SECONDS. */
  timeoutSeconds: number | null;
  enabled: boolean;
}

const posInt = (what: string) => z.number({ error: `must be ${what}` }).int(`must be ${what}`).min(1, `must be ${what}`);

const channelSchema = z.strictObject(
  {
    name: z.string({ error: 'is required (a string)' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . or -'),
    type: z.enum(CHANNEL_TYPES, { error: `must be one of ${CHANNEL_TYPES.join(', ')}` }),
    baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    key: z.string({ error: 'must be a string' }).default(''),
    models: z.array(z.string().min(1, 'must not hold an empty name'), { error: 'must be a list of model names' }).min(1, 'must name at least one model (or be left out)').optional(),
    kinds: z.array(z.enum(TASK_KINDS, { error: `must be task kinds such as ${TASK_KINDS.slice(0, 2).join(' or ')}` }), { error: 'must be a list of task kinds' }).min(1, 'must name at least one kind (or be left out)').optional(),
    priority: z.number({ error: 'must be an integer' }).int('must be an integer').default(0),
    weight: z.number({ error: 'must be a number' }).min(0, 'must be 0 or more').default(1),
    concurrency: posInt('a positive integer').optional(),
    rpm: posInt('a positive integer').optional(),
    timeoutSeconds: posInt('a positive integer (seconds)').optional(),
    enabled: z.boolean({ error: 'must be true or false' }).default(true),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}` : 'must be an object') },
);

const fileSchema = z.strictObject(
  { channels: z.array(z.unknown(), { error: (iss) => (iss.input === undefined ? 'is required (the file is { channels: [ ... ] })' : 'must be a list of channels') }) },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown top-level field ${iss.keys.join(', ')} (expected { channels: [...] })` : 'must be an object { channels: [...] }') },
);

/** A mistake in a channel file, one readable line each (`channels[2].rpm: must be …`). */
export class ChannelFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'ChannelFileError';
  }
}

const at = (path: PropertyKey[]) => path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');

/** `${NAME}` references in a key, replaced from `env`; a missing variable is a problem. */
function expandEnv(value: string, env: Record<string, string | undefined>, where: string, problems: string[]): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') problems.push(`${where}: environment variable ${name} is not set`);
    return v ?? '';
  });
}

/**
 * Reads and checks a channel file (JSON, or YAML for `.yaml`/`.yml`): `{ "channels": [ … ] }`.
 * Every mistake is listed, one per line, with where it is; keys may reference environment
 * variables (`"key": "${MJ_KEY_2}"`) so the file holds no secret.
 * @throws ChannelFileError listing every problem (unreadable file, bad syntax, bad fields,
 *   duplicate names, missing environment variables).
 */
export function readChannelFile(file: string, env: Record<string, string | undefined>): Channel[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ChannelFileError(file, [`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  let raw: unknown;
  try {
    raw = /^\.ya?ml$/i.test(extname(file)) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ChannelFileError(file, [`is not valid ${/^\.ya?ml$/i.test(extname(file)) ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  const top = fileSchema.safeParse(raw);
  if (!top.success) throw new ChannelFileError(file, top.error.issues.map((i) => `${at(i.path) || 'file'}: ${i.message}`));
  const problems: string[] = [];
  const channels: Channel[] = [];
  const seen = new Set<string>();
  top.data.channels.forEach((item, n) => {
    // Names count for duplicates even in an entry with other mistakes.
    const name = (item as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && seen.has(name)) problems.push(`channels[${n}].name: "${name}" is used by another channel`);
    if (typeof name === 'string') seen.add(name);
    const r = channelSchema.safeParse(item);
    if (!r.success) {
      for (const i of r.error.issues) problems.push(`channels[${n}]${i.path.length ? `.${at(i.path)}` : ''}: ${i.message}`);
      return;
    }
    const c = r.data;
    channels.push({
      ...c,
      baseUrl: c.baseUrl.replace(/\/+$/, ''),
      key: expandEnv(c.key, env, `channels[${n}].key`, problems),
      models: c.models ?? null,
      kinds: c.kinds ?? null,
      concurrency: c.concurrency ?? null,
      rpm: c.rpm ?? null,
      timeoutSeconds: c.timeoutSeconds ?? null,
    });
  });
  if (problems.length > 0) throw new ChannelFileError(file, problems);
  return channels;
}

/** A channel with the defaults of the file format, for the single-upstream variables. */
export function defaultChannel(fields: Pick<Channel, 'name' | 'type' | 'baseUrl' | 'key'>): Channel {
  return { ...fields, baseUrl: fields.baseUrl.replace(/\/+$/, ''), models: null, kinds: null, priority: 0, weight: 1, concurrency: null, rpm: null, timeoutSeconds: null, enabled: true };
}

/**
 * Whether a channel serves a model: exact names, or prefixes written `gpt-4o*`, in any case
 * (clients spell the same model `chirp-v3-5` and `CHIRP-V3-5`; the name goes upstream as sent).
 */
export function servesModel(channel: Pick<Channel, 'models'>, model: string | null): boolean {
  if (!channel.models || model === null) return true;
  const name = model.toLowerCase();
  return channel.models.some((m) => {
    const served = m.toLowerCase();
    return served.endsWith('*') ? name.startsWith(served.slice(0, -1)) : served === name;
  });
}
