import { randomUUID } from 'node:crypto';
import type { Channel } from '../../shared/channels/config.js';
import type { ChannelRegistry } from '../../shared/channels/registry.js';
import { LEASE_MS, type ChannelState } from '../../shared/channels/state.js';
import { CanceledError, ChannelBusyError, ChannelRefusedError, CutShortError, PermanentUpstreamError, RetryableUpstreamError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { MetricsRecorder } from '../../shared/metrics.js';
import type { ChannelAttempt } from '../../shared/tasks/model.js';
import { isModelNotFound, isQuotaExhausted } from '../upstream/http.js';
import { describeUnavailable, type Need, type Router } from './router.js';

/** How long a 429 without `Retry-After` keeps a channel out of rotation (ms). */
export const DEFAULT_COOLDOWN_MS = 2000;
/** The shortest 429 cool-down (ms): `Retry-After: 0` (or a date already past) still spaces the calls a little. */
export const MIN_COOLDOWN_MS = 500;

/** Refusals that concern the channel (its key, its quota, the network in front of it), not the request. */
export const CHANNEL_REFUSALS: ReadonlySet<number> = new Set([401, 402, 403, 407, 511]);

/**
 * How an upstream failure bears on its channel:
 * - `rate-limited`: a 429 — the channel cools down for every worker (Retry-After), the call moves;
 * - `unwell`: 5xx, timeouts, resets, refusals of the channel's own key, quota or account (401,
 *   402, 403, a spent quota such as `insufficient_quota`, an MJ proxy without a usable account),
 *   a proxy or captive portal in front of it that wants a login (407, 511), and a 404 saying it
 *   does not serve the model its list names — counts toward opening the circuit, the call moves;
 * - `cut`: the channel failed after part of the answer reached the client — counts toward
 *   opening the circuit, but the call cannot move;
 * - `request`: the upstream refused the request itself (other 4xx) — another channel would too;
 * - `none`: not an upstream failure (cancel, a bug) — rethrown as it is.
 */
export function blameOf(err: unknown): 'rate-limited' | 'unwell' | 'cut' | 'request' | 'none' {
  if (err instanceof CanceledError) return 'none';
  if (err instanceof RetryableUpstreamError) return err.status === 429 ? 'rate-limited' : 'unwell';
  if (err instanceof CutShortError) return 'cut';
  if (err instanceof ChannelRefusedError) return 'unwell';
  if (err instanceof PermanentUpstreamError) {
    if (CHANNEL_REFUSALS.has(err.status ?? 0) || isQuotaExhausted(err.upstreamError)) return 'unwell';
    if (isModelNotFound(err.status, err.message, err.upstreamError)) return 'unwell';
    return 'request';
  }
  return 'none';
}

/** The answer to a call for a model no enabled channel serves, as OpenAI gives it. */
function unknownModel(model: string): PermanentUpstreamError {
  return new PermanentUpstreamError(`The model \`${model}\` does not exist or you do not have access to it.`, 404, undefined, undefined, { type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
}

export interface CallOptions {
  /** The channel that holds the task (MJ follow-ups, long-running work): only it may be used. */
  pinned?: string | null;
  /** Channels that failed this task before (earlier job attempts): used only when no other healthy channel can serve. */
  avoid?: readonly string[];
  /** Called after every failed attempt with all attempts so far (to record them on the task). */
  onAttempt?: (attempts: ChannelAttempt[]) => Promise<unknown>;
  log?: Logger;
}

/**
 * Runs one upstream call on a channel: routes it (or uses the pinned channel), takes a slot
 * within the channel's limits (shared by all workers), reports the outcome to the channel's
 * health, and on a failure worth retrying elsewhere moves at once to another healthy channel —
 * never straight back to one that failed. When no channel can take the call now it throws
 * ChannelBusyError (the job waits without using an attempt; `failing` when every channel that
 * could serve is open, and such waits are bounded in all). When every channel failed it throws
 * the last failure, or the retryable one whose channel is back soonest (the job's own backoff
 * retries it later).
 * @returns the call's value, the channel that gave it, and every attempt made.
 * @throws ChannelBusyError, PermanentUpstreamError (no channel serves the need — a 404
 *   `model_not_found` when channels serve the kind but not the model; the pinned channel is gone
 *   or disabled; a refusal of the request), the call's own errors.
 */
export function createChannelRunner(deps: { registry: ChannelRegistry; state: ChannelState; router: Router; metrics?: MetricsRecorder }) {
  const { registry, state, router } = deps;

  /**
   * The pinned channel, whatever its health.
   * @throws PermanentUpstreamError when it is no longer configured or is disabled.
   */
  function pinnedChannel(name: string, need: Need): Channel {
    const channel = registry.get(name);
    if (!channel) throw new PermanentUpstreamError(`channel ${name}, which holds this task, is no longer configured; ${need.type} follow-ups stay on the channel that made their parent`);
    if (!channel.enabled) throw new PermanentUpstreamError(`channel ${name}, which holds this task, is disabled; ${need.type} follow-ups stay on the channel that made their parent`);
    return channel;
  }

  /** The pinned channel, if it can take a call now (its health read first). */
  async function pinnedRoute(name: string, need: Need): Promise<Channel[]> {
    const channel = pinnedChannel(name, need);
    const unavailable = (await state.usable([channel])).get(name);
    if (unavailable) {
      const failing = unavailable.reason === 'open';
      const last = failing ? await state.lastError(channel) : null;
      const why = `${describeUnavailable(name, unavailable)}${last ? ` (last error: ${last.error.slice(0, 200)})` : ''}, and it holds this task`;
      throw new ChannelBusyError(Math.max(unavailable.waitMs, 100), failing ? `no healthy channel: ${why}` : `channel ${why}`, unavailable.reason === 'cooldown', failing);
    }
    return [channel];
  }

  /**
   * Takes a slot on the first of `channels` that has one; null with the shortest wait when none
   * has (`unwell`: the channel of that wait was refused for its health, not its limits).
   */
  async function takeSlot(channels: Channel[], leaseId: string): Promise<{ channel: Channel } | { waitMs: number; reason: string; rateLimited: boolean; unwell: boolean }> {
    let best = { waitMs: Infinity, reason: '', rateLimited: false, unwell: false };
    for (const channel of channels) {
      const refused = await state.acquire(channel, leaseId);
      if (!refused) return { channel };
      if (refused.waitMs < best.waitMs) {
        const unwell = refused.reason !== 'concurrency' && refused.reason !== 'rpm';
        best = { waitMs: refused.waitMs, reason: `channel ${describeUnavailable(channel.name, refused)}`, rateLimited: refused.reason === 'cooldown', unwell };
      }
    }
    return best;
  }

  return {
    async call<T>(need: Need, opts: CallOptions, fn: (channel: Channel) => Promise<T>): Promise<{ value: T; channel: Channel; attempts: ChannelAttempt[] }> {
      const attempts: ChannelAttempt[] = [];
      const tried = new Set<string>();
      let lastError: unknown = null;
      /** The retryable failure that allows the soonest retry (a 429 with the shortest Retry-After). */
      let soonest: RetryableUpstreamError | null = null;
      /**
       * Ends the call with the last failure (that attempt did not move after all); when every
       * channel failed retryably, with the one whose channel can be retried first, so one
       * channel's long Retry-After does not stand for another that is back sooner.
       */
      const giveUp = async (): Promise<never> => {
        const last = attempts.at(-1);
        if (last) last.outcome = 'failed';
        await opts.onAttempt?.(attempts);
        throw lastError instanceof RetryableUpstreamError && soonest ? soonest : lastError;
      };
      // The channel's health is read before taking its slot only when several could serve (to
      // pick among the healthy ones) or after its slot was refused for its health (for the
      // reason and the wait the caller is told): taking a slot reads the health anyway.
      let checkHealth = false;
      for (;;) {
        let channels: Channel[];
        let unchecked = false;
        if (opts.pinned) {
          if (tried.has(opts.pinned)) return await giveUp();
          if (checkHealth) channels = await pinnedRoute(opts.pinned, need);
          else {
            channels = [pinnedChannel(opts.pinned, need)];
            unchecked = true;
          }
        } else {
          // Earlier failures are used only when no other healthy channel can serve.
          const route = await router.route(need, tried, new Set(opts.avoid ?? []), { trustOnly: !checkHealth });
          if (route.kind === 'none') throw route.unknownModel && need.model !== null ? unknownModel(need.model) : new PermanentUpstreamError(route.reason);
          if (route.kind === 'exhausted') return await giveUp();
          if (route.kind === 'wait') {
            if (lastError) return await giveUp();
            throw new ChannelBusyError(Math.max(route.wait.waitMs, 100), route.reason, route.rateLimited, route.failing);
          }
          channels = route.channels;
          unchecked = route.unchecked === true;
        }

        const leaseId = randomUUID();
        const slot = await takeSlot(channels, leaseId);
        if (!('channel' in slot)) {
          if (unchecked && slot.unwell) {
            checkHealth = true;
            continue;
          }
          if (lastError) return await giveUp();
          throw new ChannelBusyError(Math.max(slot.waitMs, 50), slot.reason, slot.rateLimited);
        }
        const { channel } = slot;
        checkHealth = false;
        let released = false;
        if (lastError) await opts.onAttempt?.(attempts);
        const at = Date.now();
        const renew = setInterval(() => void state.renew(channel, leaseId).catch(() => undefined), LEASE_MS / 3);
        renew.unref();
        try {
          const value = await fn(channel);
          deps.metrics?.observe('upstreamDuration', [channel.name, 'ok'], (Date.now() - at) / 1000);
          attempts.push({ channel: channel.name, at, outcome: 'succeeded', status: null, error: null });
          clearInterval(renew);
          await state.succeededAndReleased(channel, leaseId).then(
            () => void (released = true),
            () => undefined,
          );
          return { value, channel, attempts };
        } catch (err) {
          const blame = blameOf(err);
          if (blame !== 'none') {
            deps.metrics?.observe('upstreamDuration', [channel.name, 'error'], (Date.now() - at) / 1000);
            deps.metrics?.inc('upstreamErrors', [channel.name, blame === 'rate-limited' ? 'rate_limited' : blame]);
          }
          const status = (err as { status?: number }).status ?? null;
          const message = (err as Error).message;
          if (blame === 'rate-limited') await state.limited(channel, message, Math.max((err as RetryableUpstreamError).retryAfterMs ?? DEFAULT_COOLDOWN_MS, MIN_COOLDOWN_MS)).catch(() => undefined);
          if (blame === 'unwell' || blame === 'cut') {
            const opened = await state.failed(channel, message, status, leaseId).catch(() => false);
            if (opened) opts.log?.warn({ channel: channel.name, status }, 'channel opened after failing; only probes reach it until one succeeds');
          }
          if (blame === 'none') throw err;
          attempts.push({ channel: channel.name, at, outcome: 'moved', status, error: message.slice(0, 300) });
          lastError = err;
          if (err instanceof RetryableUpstreamError && (!soonest || (err.retryAfterMs ?? 0) < (soonest.retryAfterMs ?? 0))) soonest = err;
          if (blame === 'request' || blame === 'cut') return await giveUp();
          opts.log?.warn({ channel: channel.name, status, reason: message.slice(0, 200) }, 'upstream call failed; trying another channel');
          tried.add(channel.name);
        } finally {
          clearInterval(renew);
          if (!released) await state.release(channel, leaseId).catch(() => undefined);
        }
      }
    },
  };
}

export type ChannelRunner = ReturnType<typeof createChannelRunner>;
