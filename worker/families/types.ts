import type { Channel } from '../../shared/channels/config.js';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import type { Config } from '../../shared/config.js';
import type { Enqueue } from '../../shared/jobs/enqueue.js';
import type { JobName } from '../../shared/jobs/registry.js';
import type { Logger } from '../../shared/logger.js';
import type { TokenStreams } from '../../shared/protocols/tokens.js';
import type { RedisClient } from '../../shared/redis.js';
import type { Signals } from '../../shared/signals.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import type { ChannelRunner } from '../channels/run.js';
import type { Archiver } from '../archive.js';
import type { Processor } from '../dispatch.js';
import type { Tracker, TrackerAdapter } from '../tracker.js';

/** What a family's worker side may use: the core's services, never another family's. */
export interface WorkerFamilyDeps {
  config: Config;
  log: Logger;
  redis: RedisClient;
  store: TaskStore;
  signals: Signals;
  /** Routes each upstream call to a channel, within its limits, failing over. */
  channels: ChannelRunner;
  registry: ChannelRegistry;
  tokens: TokenStreams;
  enqueue: Enqueue;
  /** Copies media outputs into the blob store when ARCHIVE_OUTPUTS is on; null when it is off. */
  archiver: Archiver | null;
  /** The tracker of the family's own long-running work (set when the family has an adapter). */
  tracker: () => Tracker;
}

/** What a family brings to a worker process. */
export interface WorkerFamilyParts {
  /** A processor for each of its job kinds (checked at start against the catalog). */
  processors: { [N in JobName]?: Processor<N> };
  /** How its long-running upstream work is followed, when it has any. */
  tracker?: TrackerAdapter;
  /** A cheap request that tells whether a channel of its type answers again (circuit probes). */
  probe?: (channel: Channel) => Promise<unknown>;
}

/**
 * The worker layer of a task family (`worker/families/<name>/index.ts`, default export). The
 * worker makes the parts of every family of the catalog at start and refuses to start when one
 * lacks this module, or a job kind has no processor or two.
 */
export interface WorkerFamily {
  name: string;
  create(deps: WorkerFamilyDeps): WorkerFamilyParts;
}

export const defineWorkerFamily = (f: WorkerFamily): WorkerFamily => f;
