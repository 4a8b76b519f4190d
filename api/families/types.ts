import type { FastifyInstance } from 'fastify';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import type { Config } from '../../shared/config.js';
import type { Queues } from '../../shared/queues.js';
import type { RedisClient } from '../../shared/redis.js';
import type { Signals } from '../../shared/signals.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import type { CancelDeps } from '../cancel.js';
import type { ErrorReply } from '../errors.js';
import type { Submitter } from '../submit.js';

/** What a family's routes may use: the core's services, never another family's. */
export interface FamilyRouteDeps {
  config: Config;
  redis: RedisClient;
  store: TaskStore;
  queues: Queues;
  signals: Signals;
  submitter: Submitter;
  /** For the family's own cancel routes (the core's cancel: record first, then job, then upstream). */
  cancel: CancelDeps;
  /** Aborted once the API's shutdown grace period is over: long waits end then. */
  shutdown: AbortSignal;
  /** The upstream channels, for results a family streams from the channel that holds them (video bytes). */
  registry: ChannelRegistry;
}

/**
 * The API layer of a task family (`api/families/<name>/index.ts`, default export): its routes and
 * its own error format. The core registers every family of the catalog at start and refuses to
 * start when one lacks this module.
 */
export interface ApiFamily {
  /** The family's name in the catalog. */
  name: string;
  /** Registers the family's routes (with whatever prefixes it needs). */
  routes(deps: FamilyRouteDeps): (app: FastifyInstance) => Promise<void>;
  /** Its error body; without one, the core's `{"error":{message,type,param,code}}`. */
  errorBody?(e: ErrorReply): unknown;
  /** Whether a request no route matched (a 404, a parser error) speaks this family's format. */
  claims?(url: string): boolean;
  /** Response headers of its own that browser clients must be able to read (CORS `Access-Control-Expose-Headers`). */
  exposedHeaders?: readonly string[];
}

export const defineApiFamily = (f: ApiFamily): ApiFamily => f;
