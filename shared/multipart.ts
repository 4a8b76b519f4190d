/**
 * A reader of whole `multipart/form-data` bodies (RFC 7578 over RFC 2046), for checking what a
 * client sent without changing it: relayq forwards the body's bytes as they came and reads a
 * view of them here. Parts come out in order, repeated names and `name[]` arrays included, each
 * with its file name and its Content-Type header exactly as sent (parameters such as
 * `codecs=opus` kept). Part contents are views into the body, not copies.
 */

export interface FormPart {
  /** The `name` of the part's `Content-Disposition: form-data`. */
  name: string;
  /** The `filename` parameter as sent (`""` for a browser's empty file input); null for a plain field. */
  filename: string | null;
  /** The part's Content-Type header value as sent; null when the part has none. */
  contentType: string | null;
  data: Buffer;
}

/** The body is not well-formed multipart/form-data; the message says what is wrong. */
export class MultipartError extends Error {
  override name = 'MultipartError';
}

/** Splits header parameters (`a; b="x;y"; c=d`) honouring quoted strings and their `\` escapes. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\' && i + 1 < value.length) cur += c + value[++i];
    else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === ';' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

/** The parameters of a header value, names lower-cased, quoted values unquoted. */
export function headerParams(value: string): { value: string; params: Map<string, string> } {
  const [first = '', ...rest] = splitParams(value);
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(p.slice(0, eq).trim().toLowerCase(), v);
  }
  return { value: first.toLowerCase(), params };
}

/** The boundary of a `multipart/form-data` content type; null for any other type or no boundary. */
export function formBoundary(contentType: string): string | null {
  const { value, params } = headerParams(contentType);
  const boundary = params.get('boundary');
  return value === 'multipart/form-data' && boundary && boundary.length <= 200 ? boundary : null;
}

/** `filename*=UTF-8''caf%C3%A9.wav` (RFC 5987), which some clients send beside or instead of `filename`. */
function extendedValue(v: string): string | null {
  const m = /^([\w!#$%&+^`{}~-]+)'[^']*'(.*)$/.exec(v);
  if (!m) return null;
  try {
    if (m[1]!.toLowerCase() === 'utf-8') return decodeURIComponent(m[2]!);
    return m[2]!.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  } catch {
    return null;
  }
}

function readHeaders(block: string, index: number): Omit<FormPart, 'data'> {
  let disposition: string | null = null;
  let contentType: string | null = null;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === 'content-disposition') disposition = line.slice(colon + 1).trim();
    else if (name === 'content-type') contentType = line.slice(colon + 1).trim();
  }
  const parsed = disposition === null ? null : headerParams(disposition);
  const name = parsed?.params.get('name');
  if (parsed?.value !== 'form-data' || name === undefined) throw new MultipartError(`part ${index + 1} has no Content-Disposition: form-data with a name`);
  const star = parsed.params.get('filename*');
  const filename = (star !== undefined ? extendedValue(star) : null) ?? parsed.params.get('filename') ?? null;
  return { name, filename, contentType };
}

/**
 * The parts of a whole `multipart/form-data` body, in order.
 * @throws MultipartError when the content type has no boundary, or the body is not delimited by it
 *   (no opening or closing delimiter, a part without headers' end or without a name).
 */
export function parseMultipart(body: Buffer, contentType: string): FormPart[] {
  const boundary = formBoundary(contentType);
  if (!boundary) throw new MultipartError('the content type is not multipart/form-data with a boundary');
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const next = Buffer.from(`\r\n--${boundary}`, 'latin1');
  // The first delimiter opens the body or follows a preamble line.
  let at = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : body.indexOf(next);
  if (at < 0) throw new MultipartError('the body does not start with the boundary of its content type');
  if (at > 0) at += 2;
  const parts: FormPart[] = [];
  for (;;) {
    at += delimiter.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts;
    // Transport padding after a delimiter, then its line break.
    while (body[at] === 0x20 || body[at] === 0x09) at++;
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) throw new MultipartError(`part ${parts.length + 1}: no line break after the boundary`);
    at += 2;
    const headersEnd = body[at] === 0x0d && body[at + 1] === 0x0a ? at : body.indexOf('\r\n\r\n', at, 'latin1');
    if (headersEnd < 0) throw new MultipartError(`part ${parts.length + 1}: its headers do not end`);
    const headers = readHeaders(body.subarray(at, headersEnd).toString('utf8'), parts.length);
    const start = headersEnd + (headersEnd === at ? 2 : 4);
    const end = body.indexOf(next, start);
    if (end < 0) throw new MultipartError(`part ${parts.length + 1} (${headers.name}): the body ends before the closing boundary`);
    parts.push({ ...headers, data: body.subarray(start, end) });
    at = end + 2;
  }
}
