import type { TaskBase } from '../../tasks/model.js';
import { newTask } from '../../tasks/new.js';

/** The task kinds of the Anthropic messages family (a wire format). */
export const ANTHROPIC_KINDS = ['anthropic.message'] as const;
export type AnthropicKind = (typeof ANTHROPIC_KINDS)[number];

/** The `anthropic-version` sent upstream when the client sent none (what new-api sends too). */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/**
 * What an Anthropic Messages call asked for; the request body itself is the `request` blob,
 * forwarded byte for byte. `version` and `beta` are the client's `anthropic-version` and
 * `anthropic-beta` headers (null when it sent none), forwarded with the call.
 */
export interface AnthropicRequest {
  model: string | null;
  stream: boolean;
  version: string | null;
  beta: string | null;
}

/**
 * A `POST /v1/messages` call kept as a task: its `output` is the Message object (the whole
 * answer, merged from the events for a stream) and its `response` the answer to replay.
 */
export interface AnthropicTask extends TaskBase<AnthropicKind> {
  family: 'anthropic';
  anthropic: AnthropicRequest;
}

/** A fresh Anthropic task: the base fields and what was asked. */
export function newAnthropicTask(fields: Pick<AnthropicTask, 'id' | 'tenant' | 'anthropic'> & Partial<Omit<AnthropicTask, 'family' | 'kind'>>, now = Date.now()): AnthropicTask {
  return newTask<AnthropicTask>({ family: 'anthropic', kind: 'anthropic.message', ...fields }, now);
}
