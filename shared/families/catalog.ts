import type { Config } from '../config.js';
import { webhookDeliver } from '../jobs/webhook-deliver.js';
import * as all from './all.js';
import type { FamilyDef, QueueDef } from './types.js';

/**
 * The catalog of task families: everything the core knows of them. The core never names a family;
 * it asks the catalog (the family of a kind, the queues to serve, the jobs to run), and the unions
 * typed from it (`Task`, `TaskKind`, `JobName`) make a family's missing piece a compile error.
 */
type All = typeof all;
export type FamilyName = keyof All;
/** A task of any family, told apart by `family`. */
export type Task = { [F in FamilyName]: NonNullable<All[F]['task']> }[FamilyName];
export type TaskKind = Task['kind'];

export const FAMILIES: readonly FamilyDef[] = Object.values(all) as readonly FamilyDef[];

/** Every task kind, as a non-empty tuple (for schemas). */
export const TASK_KINDS = FAMILIES.flatMap((f) => f.kinds) as unknown as readonly [TaskKind, ...TaskKind[]];

/** Queues of the core (webhook deliveries), next to the families' own. */
const CORE_QUEUES: readonly QueueDef[] = [{ name: 'webhook', concurrency: (config: Config) => config.WEBHOOK_CONCURRENCY }];
export const QUEUES: readonly QueueDef[] = [...FAMILIES.flatMap((f) => f.queues), ...CORE_QUEUES];
/** Every queue name (the first part of task ids, and what WORKER_QUEUES lists). */
export const QUEUE_NAMES = QUEUES.map((q) => q.name) as unknown as readonly [string, ...string[]];
/** The queues that hold tasks (every queue but the core's). */
export const TASK_QUEUES: readonly string[] = FAMILIES.flatMap((f) => f.queues.map((q) => q.name));

const byKind = new Map<string, FamilyDef>(FAMILIES.flatMap((f) => f.kinds.map((k) => [k, f] as const)));
const byName = new Map<string, FamilyDef>(FAMILIES.map((f) => [f.name, f]));
const byQueue = new Map<string, FamilyDef>(FAMILIES.flatMap((f) => f.queues.map((q) => [q.name, f] as const)));

/** The family of a task kind; undefined for a kind no family has (a record from a removed family). */
export const familyOfKind = (kind: string): FamilyDef | undefined => byKind.get(kind);
export const familyNamed = (name: string): FamilyDef | undefined => byName.get(name);
/** The family whose tasks a queue holds (a task id names its queue); undefined for the core's queues. */
export const familyOfQueue = (queue: string): FamilyDef | undefined => byQueue.get(queue);

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type FamilyJobs = UnionToIntersection<All[FamilyName]['jobs']>;

/** Every job kind: the families' and the core's, by wire name. */
export const JOB_KINDS = Object.assign({}, ...FAMILIES.map((f) => f.jobs), { [webhookDeliver.name]: webhookDeliver }) as FamilyJobs & {
  [webhookDeliver.name]: typeof webhookDeliver;
};
