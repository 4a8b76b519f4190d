import { ValidationError } from '../../../shared/errors.js';
import { uploadParts } from '../../upload-form.js';

/** A multipart body's plain fields (the last value of each name) and the names of its file parts. */
export interface VideoForm {
  values: Record<string, string>;
  files: string[];
}

/**
 * Checks a whole `multipart/form-data` body for what relayq needs (well-formed, within the blob
 * store's size, no empty file) and returns a view of it; the body itself is forwarded upstream
 * byte for byte. The openai SDK sends `input_reference` as a file, or its object form as
 * bracketed fields (`input_reference[image_url]`), which pass as plain fields.
 * @throws ValidationError naming the field (`body` for a malformed body); TooLargeError naming the
 *   largest part when the body is over `maxBytes` (BLOB_MAX_BYTES).
 */
export function readVideoForm(body: Buffer, contentType: string, maxBytes: number): VideoForm {
  const parts = uploadParts(body, contentType, maxBytes);
  const values: Record<string, string> = {};
  const files: string[] = [];
  for (const part of parts) {
    if (part.filename === null) {
      values[part.name] = part.data.toString('utf8');
      continue;
    }
    if (part.data.length === 0) throw new ValidationError(part.name, 'must not be an empty file');
    files.push(part.name);
  }
  return { values, files };
}
