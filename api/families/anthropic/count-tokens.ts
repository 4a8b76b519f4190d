import type { FastifyReply, FastifyRequest } from 'fastify';
import { servesModel, type Channel } from '../../../shared/channels/config.js';
import type { ChannelRegistry } from '../../../shared/channels/registry.js';
import { redact } from '../../../shared/redact.js';
import { anthropicFamily } from '../../../shared/families/anthropic/family.js';
import { anthropicError, anthropicErrorType } from '../../../shared/families/anthropic/errors.js';
import { ANTHROPIC_KINDS, DEFAULT_ANTHROPIC_VERSION } from '../../../shared/families/anthropic/task.js';

export interface CountDeps {
  registry: ChannelRegistry;
  /** Idle timeout when the channel sets none (UPSTREAM_TIMEOUT_SECONDS), seconds. */
  timeoutSeconds: number;
}

/** At most this much of an upstream's answer is read. */
const MAX_ANSWER_BYTES = 1 << 20;

/** The enabled channels that serve Messages for `model`, highest priority first. */
function channelsFor(registry: ChannelRegistry, model: string): Channel[] {
  return registry
    .ofType(anthropicFamily.channelType)
    .filter((c) => c.enabled && servesModel(c, model) && (!c.kinds || c.kinds.includes(ANTHROPIC_KINDS[0])))
    .sort((a, b) => b.priority - a.priority);
}

/** The upstream's error message (Anthropic's envelope, or a bare one), redacted (channel keys, token-shaped credentials). */
function messageOf(text: string): { type: string | null; message: string } {
  let type: string | null = null;
  let message = text.replace(/\s+/g, ' ').trim().slice(0, 300) || 'no body';
  try {
    const parsed = JSON.parse(text) as { error?: { type?: unknown; message?: unknown } | string; message?: unknown };
    const e = parsed.error;
    const m = typeof e === 'string' ? e : (e?.message ?? parsed.message);
    if (typeof m === 'string') message = m;
    if (typeof e === 'object' && typeof e.type === 'string') type = e.type;
  } catch {
    // not JSON: the text itself
  }
  return { type, message: redact(message) };
}

/**
 * `POST /v1/messages/count_tokens` (Claude Code calls it every turn): counting is quick, free and
 * leaves nothing to keep, so it is no task but one proxy call, made by the API itself, to the
 * enabled anthropic channel of the highest priority that serves `model` (the body as it came,
 * the channel's key, the client's `anthropic-version` and `anthropic-beta`). A channel that does
 * not answer, answers 5xx or 429 gives way to the next; the answer is the upstream's (a count, or
 * its refusal in Anthropic's envelope, with the channel's key scrubbed). A channel refusing its
 * own key (401/403) is the relay's failure (502), never the client's. No channel at all: 404
 * `not_found_error`, on which Claude Code counts locally.
 */
export async function countTokens(req: FastifyRequest, reply: FastifyReply, deps: CountDeps, body: Buffer, model: string, fwd: { version: string | null; beta: string | null }) {
  const channels = channelsFor(deps.registry, model);
  if (channels.length === 0) return reply.status(404).send(anthropicError('not_found_error', `no channel counts tokens for model ${model}`));
  let last = 'no channel answered';
  for (const channel of channels) {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'anthropic-version': fwd.version ?? DEFAULT_ANTHROPIC_VERSION };
    if (channel.key) headers['x-api-key'] = channel.key;
    if (fwd.beta) headers['anthropic-beta'] = fwd.beta;
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${channel.baseUrl}/v1/messages/count_tokens`, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout((channel.timeoutSeconds ?? deps.timeoutSeconds) * 1000),
      });
      status = res.status;
      text = (await res.text()).slice(0, MAX_ANSWER_BYTES);
    } catch (err) {
      req.log.warn({ err: (err as Error).message, channel: channel.name }, 'token count call failed');
      last = `channel ${channel.name} did not answer`;
      continue;
    }
    if (status >= 200 && status < 300) return reply.status(status).type('application/json').send(text);
    const refusal = messageOf(text);
    if (status >= 500 || status === 429) {
      last = `channel ${channel.name} answered ${status}: ${refusal.message}`;
      continue;
    }
    if (status === 401 || status === 403) {
      req.log.warn({ channel: channel.name, status }, 'token count refused the channel key');
      return reply.status(502).header('x-should-retry', 'false').send(anthropicError('api_error', `upstream channel ${channel.name} refused its key (${status}); tell the relay's operator`));
    }
    return reply.status(status).send(anthropicError(anthropicErrorType(refusal.type, status), refusal.message));
  }
  return reply.status(502).send(anthropicError('api_error', `tokens could not be counted: ${last}`));
}
