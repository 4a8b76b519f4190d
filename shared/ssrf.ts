import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** A webhook target relayq will not call; never retried. */
export class BlockedTargetError extends Error {
  override name = 'BlockedTargetError';
}

/**
 * Address ranges a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE=true. Two lists, because a
 * BlockList also matches IPv4 addresses against IPv4-mapped IPv6 rules, and `::ffff:0:0/96`
 * (refused as such) would otherwise refuse every IPv4 address.
 */
const BLOCKED_V4 = new BlockList();
const BLOCKED_V6 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  BLOCKED_V4.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::ffff:0:0', 96], // IPv4-mapped
  ['64:ff9b::', 96], // NAT64 (embeds IPv4)
  ['100::', 64], // discard
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254 too)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  BLOCKED_V6.addSubnet(net, bits, 'ipv6');

/** Why an address is refused, or null when it may be called. */
export function blockedReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const blocked = family === 4 ? BLOCKED_V4.check(address, 'ipv4') : BLOCKED_V6.check(address, 'ipv6');
  return blocked ? `${address} is a loopback, private, link-local, metadata or reserved address` : null;
}

export interface ResolvedTarget {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves a webhook (or archive download) URL's host and checks every address it has (so a name cannot mix a public
 * and a private answer). The caller connects to the returned address, not to the name again,
 * so a second DNS answer cannot differ from the one checked. `setting` is the variable a refusal
 * names as the way to allow private targets.
 */
export async function resolveTarget(url: URL, allowPrivate: boolean, setting = 'WEBHOOK_ALLOW_PRIVATE'): Promise<ResolvedTarget> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BlockedTargetError(`target refused: ${url.protocol} is not http(s)`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let answers: { address: string; family: number }[];
  try {
    answers = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    throw new Error(`cannot resolve ${host}: ${(err as { code?: string }).code ?? 'lookup failed'}`);
  }
  if (answers.length === 0) throw new Error(`cannot resolve ${host}`);
  if (!allowPrivate) {
    for (const a of answers) {
      const reason = blockedReason(a.address);
      if (reason) throw new BlockedTargetError(`target refused: ${host === a.address ? reason : `${host} resolves to ${reason}`} (set ${setting}=true to allow)`);
    }
  }
  const first = answers[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/**
 * A DNS lookup (for http.request's `lookup` or undici's `connect.lookup`) that answers only the
 * address `resolveTarget` checked, so a second DNS answer for the host cannot differ (DNS
 * rebinding); TLS still verifies the URL's host name. Answers the `all: true` form too.
 */
export function pinnedLookup(target: ResolvedTarget): LookupFunction {
  return (_host, opts, cb) => {
    if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
}
