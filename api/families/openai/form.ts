import { ValidationError } from '../../../shared/errors.js';
import type { FormPart } from '../../../shared/multipart.js';
import { uploadParts } from '../../upload-form.js';

/** The plain fields of a form as a route's schema reads them: a string per name, an array when the name repeats. */
export type FormValues = Record<string, string | string[]>;

/** The file a multipart route needs: a part under any of these names (`image` or the SDK's `image[]`). */
export interface FormFiles {
  required: readonly string[];
}

const isFile = (part: FormPart, files: FormFiles) => part.filename !== null || files.required.includes(part.name);

/**
 * Checks a whole `multipart/form-data` body for what relayq needs and returns its plain fields
 * for the route's schema; the body itself is forwarded upstream byte for byte, so nothing here
 * changes it. Checked: the body is well-formed; it fits in the blob store; the route's file is
 * there; no file is empty. Unknown fields and files pass.
 * @throws ValidationError (400) naming the field, or `body` for a malformed body;
 *   TooLargeError (413) naming the largest part when the body is over `maxBytes` (BLOB_MAX_BYTES).
 */
export function readForm(body: Buffer, contentType: string, files: FormFiles, maxBytes: number): FormValues {
  const parts = uploadParts(body, contentType, maxBytes);
  const [first, ...aliases] = files.required;
  if (first && !parts.some((p) => files.required.includes(p.name))) {
    throw new ValidationError(first, `is required (a file${aliases.length ? `; also accepted as ${aliases.join(', ')}` : ''})`);
  }
  const values: FormValues = {};
  for (const part of parts) {
    if (isFile(part, files)) {
      if (part.data.length === 0) throw new ValidationError(part.name, 'must not be an empty file');
      continue;
    }
    const value = part.data.toString('utf8');
    const seen = values[part.name];
    values[part.name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return values;
}
