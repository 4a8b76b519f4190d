import type { Config } from '../config.js';
import type { JobContract } from '../jobs/contract.js';
import type { StoredForm } from '../tasks/forms.js';
import type { TaskBase, TaskPatch } from '../tasks/model.js';

/**
 * A queue a family's jobs run on. Its name is a wire format: the queue's Redis hash tag (`{mj}`)
 * and the start of every task id made on it (`mj_…`), so renaming one is a migration.
 */
export interface QueueDef<Name extends string = string> {
  name: Name;
  /** Jobs one worker process runs at once on this queue. */
  concurrency: (config: Config) => number;
}

/**
 * The shared layer of a task family (a protocol relayq relays: MJ, OpenAI, Suno…): what the core
 * and every layer know of it. The core works only through these definitions (the catalog), so a
 * family is added by a folder per layer and one line in `all.ts`.
 *
 * The other layers find the family by its `name`: `api/families/<name>/index.ts` (its routes and
 * error format), `worker/families/<name>/index.ts` (its processors, upstream adapter, probe) and
 * `sim/<name>.ts` (the simulator's side); each process checks at start that they are there.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a family's own task type, whatever its kinds
export interface FamilyDef<Name extends string = string, Kind extends string = string, T extends TaskBase<any> = TaskBase<any>, Jobs extends Record<string, JobContract> = Record<string, JobContract>> {
  name: Name;
  /** The channel type whose channels serve its calls (several families may share one: `openai`). */
  channelType: string;
  /** Its task kinds (a wire format: tasks and filters name them). */
  kinds: readonly Kind[];
  queues: readonly QueueDef[];
  /** The queue a task of this kind is placed on. */
  queueOf(kind: Kind): string;
  /** Its job kinds, by wire name. */
  jobs: Jobs;
  /** The `output` of the generic task view (`/v1/tasks`, webhooks, SSE) for its tasks. */
  output(task: T): unknown;
  /** Where a finished task's result lives when relayq does not hold it (`/v1/tasks/{id}/content` redirects there). */
  contentUrl?(task: T): string | null;
  /** The family's own callback body (a `notifyHook` of its protocol), when it has one. */
  callbackBody?(task: T): unknown;
  /**
   * Its media outputs, for ARCHIVE_OUTPUTS: `urls` lists the upstream URLs of a succeeded task's
   * final images, audio and video; `replace` is the patch that puts relayq's own URLs in their
   * place (`urlOf` answers null for a URL that was not archived: it stays as it is). The core
   * copies; the family only says where its outputs are.
   */
  archive?: {
    urls(task: T): string[];
    replace(task: T, urlOf: (url: string) => string | null): TaskPatch<T>;
  };
  /**
   * Fills a task read from Redis: defaults for fields an older record lacks. A new record leaves
   * out the family's fields that hold what `complete` puts back (their default), so it must put
   * back each one on its own, whatever the other fields hold.
   */
  complete?(task: T): T;
  /** Compact stored forms of some of its task's fields, by field (shared/tasks/forms.ts). */
  storedForms?: Record<string, StoredForm>;
  /** Type only: the family's task. */
  readonly task?: T;
}

/** Declares a family, keeping its literal types (kinds, job names) for the catalog's unions. */
export const defineFamily =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see FamilyDef
  <T extends TaskBase<any>>() =>
  <const Name extends string, const Kind extends T['kind'], const Jobs extends Record<string, JobContract>>(def: FamilyDef<Name, Kind, T, Jobs>) =>
    def;
