/**
 * Archived outputs (ARCHIVE_OUTPUTS): the blob names they are kept under and the relayq URLs that
 * serve them, shared by the worker (which writes them) and the API (which serves them). A wire
 * format: URLs handed to clients must keep working for as long as their task is kept.
 *
 *   blob     archive.<token>                               in the task's blobs
 *   URL      <PUBLIC_URL>/v1/files/<task id>/<token><ext>  <ext>: the source URL's extension, for
 *                                                         clients that go by it (.png, .mp4)
 *
 * The token (24 random URL-safe characters) makes the URL unguessable: like a presigned URL, it
 * is the permission to read that one file, so `<img src>` and media players need no key.
 */

/** The blob name of an archived output. */
export const archiveBlobName = (token: string) => `archive.${token}`;

/** The file part of the URL for a source URL path: the token and the source's extension, if it has a plain one. */
export function archiveUrl(publicUrl: string, taskId: string, token: string, sourcePath: string): string {
  const ext = /\.[A-Za-z0-9]{1,5}$/.exec(sourcePath)?.[0]?.toLowerCase() ?? '';
  return `${publicUrl.replace(/\/+$/, '')}/v1/files/${taskId}/${token}${ext}`;
}

/** The blob name a `/v1/files/<task id>/<file>` request names; null for a malformed file part. */
export function blobNameOfFile(file: string): string | null {
  const m = /^([A-Za-z0-9_-]{16,64})(\.[A-Za-z0-9]{1,5})?$/.exec(file);
  return m ? archiveBlobName(m[1]!) : null;
}
