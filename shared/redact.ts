/**
 * Keeps secrets out of what relayq passes on from upstreams. An upstream that refuses a key often
 * quotes it back ("Incorrect API key provided: sk-proj-…", "invalid x-api-key sk-ant-…"), and
 * relayq relays upstream error text to its own clients, who must never see a channel's key.
 *
 * Two rules, applied to any upstream text before it is stored on a task or sent to a client:
 * - every secret remembered with `rememberSecrets` (the channels' keys and relayq's own API and
 *   admin keys; at least 8 characters)
 *   is replaced wherever it appears;
 * - token-shaped strings are masked whatever they are: `sk-…`/`sk-ant-…`/`sk-proj-…` keys, the
 *   credential after `Bearer`/`Basic`, and `key=`/`api_key=`/`token=` query values.
 */

const known = new Set<string>();

/** Adds secrets (e.g. every channel's key, on start and on each reload) to those `redact` removes. */
export function rememberSecrets(secrets: Iterable<string | null | undefined>): void {
  for (const s of secrets) if (s && s.length >= 8) known.add(s);
}

const PATTERNS: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-[redacted]'],
  [/\b((?:api[_-]?)?key|token|access_token)=([^&\s"']{8,})/gi, '$1=[redacted]'],
];

/** `text` without any remembered secret or token-shaped credential (see the module's rules). */
export function redact(text: string): string {
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.split(s).join('[redacted]');
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  return out;
}

/** `redact` over a body's bytes when it is text (JSON, SSE, HTML, plain); other bodies unchanged. */
export function redactBody(body: Buffer, contentType: string): Buffer {
  if (!/json|text|event-stream|xml|html/i.test(contentType) && contentType !== '') return body;
  const text = body.toString('utf8');
  const clean = redact(text);
  return clean === text ? body : Buffer.from(clean, 'utf8');
}
