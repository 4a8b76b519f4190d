import { isIP } from 'node:net';
import { ValidationError } from '../shared/errors.js';
import { blockedReason } from '../shared/ssrf.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType, type WebhookTarget } from '../shared/tasks/model.js';

/** An absolute http(s) URL of at most 2000 characters: what a notifyHook, webhook or link may be. */
export const isHttpUrl = (s: string): boolean => s.length <= 2000 && /^https?:\/\/[^\s/]+/i.test(s) && URL.canParse(s);

/**
 * Refuses, at submit, a webhook target that could never be delivered: a host that is literally a
 * loopback, private, link-local or metadata address, or `localhost` (names are checked again,
 * resolved, at every delivery). Throws ValidationError naming `field` and WEBHOOK_ALLOW_PRIVATE.
 */
export function checkWebhookTarget(field: string, url: string, allowPrivate: boolean): void {
  if (allowPrivate) return;
  // `localhost.` is `localhost`: a trailing dot only makes the name absolute.
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  const reason = host === 'localhost' || host.endsWith('.localhost') ? `${host} is a loopback name` : isIP(host) ? blockedReason(host) : null;
  if (reason) throw new ValidationError(field, `${reason}: relayq does not deliver webhooks there unless WEBHOOK_ALLOW_PRIVATE=true`);
}

const EVENT_NAMES = new Map<string, WebhookEventType>(WEBHOOK_EVENT_TYPES.flatMap((t) => [[t, t] as const, [t.slice(5), t] as const]));

/** `X-Webhook-Url` (and the optional `X-Webhook-Events` filter) of a /v1 submission. */
export function webhookOf(headers: Record<string, string | string[] | undefined>, allowPrivate: boolean): WebhookTarget | null {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const url = one('x-webhook-url');
  const events = one('x-webhook-events');
  if (url === undefined) {
    if (events !== undefined) throw new ValidationError('X-Webhook-Events', 'needs X-Webhook-Url');
    return null;
  }
  if (!isHttpUrl(url)) throw new ValidationError('X-Webhook-Url', 'must be an http(s) URL of at most 2000 characters');
  checkWebhookTarget('X-Webhook-Url', url, allowPrivate);
  let filter: WebhookEventType[] | null = null;
  if (events !== undefined) {
    filter = [];
    for (const name of events.split(',').map((e) => e.trim()).filter(Boolean)) {
      const type = EVENT_NAMES.get(name);
      if (!type) throw new ValidationError('X-Webhook-Events', `"${name}" is not one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
      filter.push(type);
    }
    if (filter.length === 0) throw new ValidationError('X-Webhook-Events', 'must name at least one event type');
  }
  return { url, format: 'generic', events: filter };
}
