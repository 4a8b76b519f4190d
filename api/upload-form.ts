import { TooLargeError, ValidationError } from '../shared/errors.js';
import { MultipartError, parseMultipart, type FormPart } from '../shared/multipart.js';

/**
 * The parts of an uploaded `multipart/form-data` body (RFC 7578), for routes that forward the body
 * upstream byte for byte and only check it.
 * @throws ValidationError naming `body` when it is not well-formed; TooLargeError naming the
 *   largest part when the body is over `maxBytes` (BLOB_MAX_BYTES, bytes).
 */
export function uploadParts(body: Buffer, contentType: string, maxBytes: number): FormPart[] {
  let parts: FormPart[];
  try {
    parts = parseMultipart(body, contentType);
  } catch (err) {
    if (err instanceof MultipartError) throw new ValidationError('body', `is not valid multipart/form-data: ${err.message}`);
    throw err;
  }
  if (body.length > maxBytes) {
    const largest = parts.reduce<FormPart | null>((max, p) => (!max || p.data.length > max.data.length ? p : max), null);
    throw new TooLargeError(largest?.name ?? 'body', `makes the upload larger than BLOB_MAX_BYTES (${maxBytes} bytes)`);
  }
  return parts;
}
