import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Faults } from './faults.js';

/**
 * What starts a simulator. Each family's simulator adds its own options to this interface (a
 * declaration in `sim/<family>.ts`), so callers set them by name: `mjDurationMs`, `openaiKey`, …
 */
export interface SimOptions {
  host?: string;
  port?: number;
  /** Base of the URLs it answers (images, media; SIM_PUBLIC_URL); unset: the address each request came to. */
  publicUrl?: string;
}

/**
 * One request the simulator received, logged once as it arrived: `body` as the family's simulator
 * parsed it (JSON, or the parts of a multipart call); `ids` the number of ids of a batch read.
 */
export interface SimRequest {
  method: string;
  path: string;
  /** Epoch ms. */
  at: number;
  ids?: number;
  body?: unknown;
}

/** What the simulator's core gives a family's simulator. */
export interface SimContext {
  options: SimOptions;
  faults: Faults;
  log(entry: Omit<SimRequest, 'at'>): void;
  /** The base of the URLs answered to this request (no trailing slash). */
  baseOf(req: FastifyRequest): string;
}

/**
 * A family's side of the simulator (`sim/<family>.ts`, default export): the upstream protocol its
 * channels speak, with faults. Found by the family's name from the catalog.
 */
export interface SimFamily<Handle = unknown> {
  name: string;
  /** The channel type it plays. */
  channelType: string;
  /** What a channel's `baseUrl` adds to the simulator's address (`/v1` for OpenAI-compatible ones). */
  basePath: string;
  create(ctx: SimContext): {
    /** Registers its routes on the simulator's app (their full paths). */
    register(app: FastifyInstance): Promise<void>;
    /** Whether a request is a work call (counted in the simulator's concurrent-call load). */
    isWorkCall(method: string, url: string): boolean;
    /** What tests may drive in-process (its tasks, hooks). */
    handle: Handle;
  };
}

export const defineSimFamily = <Handle>(f: SimFamily<Handle>): SimFamily<Handle> => f;
