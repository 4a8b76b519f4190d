import type { Blob } from './tasks/store.js';

/**
 * Image inputs of the Midjourney-proxy protocol, read as leniently as midjourney-proxy servers
 * read them (trueai-org's `DataUrl.Parse`, novicezk's RFC 2397 data URL reader):
 *
 * - a data URL, `data:image/png;base64,...`, with any scheme case and parameters before
 *   `;base64` (`data:image/jpeg;charset=utf-8;base64,...`);
 * - bare base64 without a `data:` prefix;
 * - in the base64: line wrapping (CR, LF, TAB), the URL-safe alphabet (`-`, `_`), missing `=`
 *   padding, and the damage transports do to `+`, `/` and `=` (see decodeBase64);
 * - an http(s) URL, which the upstream fetches itself (kept as a `text/uri-list` blob and relayed
 *   unchanged, as trueai-org's server passes URLs in `base64Array` on to Midjourney).
 *
 * Bytes must be an image: a declared `image/*` type is trusted; otherwise (bare base64, a missing
 * or generic type such as `application/octet-stream`) the type is read from the bytes' signature,
 * and input that is no known image format is refused. Relayed upstream, every image is written
 * back as a canonical `data:<type>;base64,<padded standard base64>` data URL.
 */

/** The blob type of an image given by URL; its data is the URL. */
export const IMAGE_URL_TYPE = 'text/uri-list';

export type ImageInput = { ok: true; blob: Blob } | { ok: false; reason: string };

const HTTP_URL = /^https?:\/\/[^\s/]+/i;

/**
 * Decodes standard or URL-safe base64, with or without padding; null when it is not base64.
 * Base64 has no spaces, so a space inside it is a `+` that a form-urlencoded decode turned into
 * a space on the way (body parsers, PHP's urldecode, HTTP libraries that form-decode JSON):
 * it is read as `+` again, never dropped, which would shift every later byte. Line wrapping
 * (CR, LF, TAB) is removed, spaces after the `=` padding are dropped (nothing follows padding),
 * and percent-encoded `%2B`, `%2F`, `%3D` (an URL-encoded data URL) are read as `+`, `/`, `=`.
 */
export function decodeBase64(text: string): Buffer | null {
  const clean = text
    .replace(/%(2B|2F|3D)/gi, (m) => decodeURIComponent(m))
    .replace(/[\r\n\t]/g, '')
    .replace(/= +$/, '=')
    .replace(/ /g, '+');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) return null;
  const body = clean.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  return Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

const startsWith = (b: Buffer, bytes: number[], at = 0) => b.length >= at + bytes.length && bytes.every((x, i) => b[at + i] === x);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const HEIF_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** The image type the bytes' signature shows (PNG, JPEG, GIF, WebP, BMP, TIFF, ICO, AVIF/HEIF); null when none. */
export function sniffImageType(b: Buffer): string | null {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))) return 'image/gif';
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) return 'image/webp';
  if (startsWith(b, ascii('BM')) && b.length > 26) return 'image/bmp';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return 'image/tiff';
  if (startsWith(b, [0x00, 0x00, 0x01, 0x00])) return 'image/x-icon';
  if (startsWith(b, ascii('ftyp'), 4)) {
    const brand = b.subarray(8, 12).toString('latin1');
    if (HEIF_BRANDS.has(brand)) return brand.startsWith('avi') ? 'image/avif' : 'image/heic';
  }
  return null;
}

function imageBlob(data: Buffer | null, declared: string | null): ImageInput {
  if (!data) return { ok: false, reason: 'is not valid base64 (expected a data URL such as data:image/png;base64,..., bare base64 or an http(s) URL)' };
  if (data.length === 0) return { ok: false, reason: 'is an empty image' };
  if (declared?.startsWith('image/')) return { ok: true, blob: { type: declared, data } };
  const sniffed = sniffImageType(data);
  if (sniffed) return { ok: true, blob: { type: sniffed, data } };
  return { ok: false, reason: declared ? `is not an image (its type is ${declared})` : 'is not an image (no PNG, JPEG, GIF, WebP, BMP, TIFF, ICO or AVIF/HEIF signature)' };
}

/** Reads one image input; see the module comment for the forms accepted. Blank input is refused (callers drop it first). */
export function parseImageInput(input: string): ImageInput {
  // Trailing spaces may be a `+` the transport turned into a space: the base64 gets the
  // untrimmed end (decodeBase64 decides), everything else the trimmed text.
  const head = input.trimStart();
  const s = head.trimEnd();
  if (!s) return { ok: false, reason: 'is empty' };
  if (/^https?:/i.test(s)) {
    return HTTP_URL.test(s) && s.length <= 2000 && URL.canParse(s)
      ? { ok: true, blob: { type: IMAGE_URL_TYPE, data: Buffer.from(s) } }
      : { ok: false, reason: 'is not a valid http(s) URL of at most 2000 characters' };
  }
  if (/^blob:/i.test(s)) return { ok: false, reason: 'is a browser-local blob: URL; send the image bytes as a data URL instead' };
  const comma = s.indexOf(',');
  if (!/^data:/i.test(s) || comma < 0) return imageBlob(decodeBase64(head), null);
  const params = s.slice(5, comma).split(';').map((p) => p.trim().toLowerCase());
  if (params.at(-1) !== 'base64') return { ok: false, reason: 'must be a base64 data URL (data:<type>;base64,...)' };
  const type = params[0] && /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(params[0]) ? params[0] : null;
  // `base64, AAAA`: a space before the data is layout (no image's base64 starts with `+`).
  return imageBlob(decodeBase64(head.slice(comma + 1).replace(/^ +/, '')), type);
}

/** The URL of an image given by URL; null for image bytes. */
export function imageUrlOf(blob: Blob): string | null {
  return blob.type === IMAGE_URL_TYPE ? blob.data.toString('utf8') : null;
}

export function toDataUrl(blob: Blob): string {
  return `data:${blob.type};base64,${blob.data.toString('base64')}`;
}

/** How an image input goes upstream: its URL unchanged, or its bytes as a canonical data URL. */
export function toUpstreamImage(blob: Blob): string {
  return imageUrlOf(blob) ?? toDataUrl(blob);
}
