import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../shared/errors.js';
import { blobNameOfFile } from '../../shared/files.js';
import type { ByteRange } from '../../shared/blobs.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import { parse } from '../errors.js';
import { routeDoc } from '../openapi.js';
import { sendBlob } from '../replay.js';

const params = z.object({ id: z.string().max(64), file: z.string().max(128) });

/**
 * The one byte range a `Range` header asks for within `size` bytes: null when there is none or it
 * is not a single `bytes` range (the whole file is sent), 'unsatisfiable' when it lies outside.
 */
export function byteRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    // The last n bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/**
 * `GET /v1/files/{task id}/{file}`: an archived output (ARCHIVE_OUTPUTS), streamed from the blob
 * store for as long as its task is kept, one byte range of it when asked (`Range`, so players can
 * seek in a video). No key: the unguessable file token in the URL is the permission (so
 * `<img src>` and media players can use it), as with a presigned URL.
 */
export function fileRoutes(deps: { store: Pick<TaskStore, 'openBlob' | 'statBlob'> }) {
  return async function plugin(app: FastifyInstance) {
    const doc = routeDoc({
      tags: ['tasks'],
      summary: 'An archived output (ARCHIVE_OUTPUTS)',
      description: 'No key: the file token in the URL is the permission, as with a presigned URL. Byte ranges (Range: bytes=…) are served.',
      open: true,
      params,
      responses: {
        200: { description: 'The file, with its media type.', contentType: 'application/octet-stream' },
        206: { description: 'The requested byte range.', contentType: 'application/octet-stream' },
        404: { description: 'No such file (archived files expire with their task).' },
        416: { description: 'The range lies outside the file.' },
      },
    });
    app.get('/v1/files/:id/:file', { schema: doc }, async (req, reply) => {
      const { id, file } = parse(params, req.params, 'file');
      const name = blobNameOfFile(file);
      const info = name ? await deps.store.statBlob(id, name) : null;
      if (!name || !info) throw new NotFoundError('file not found (archived files expire with their task)');
      // The bytes behind one URL never change.
      void reply.header('cache-control', 'private, max-age=86400, immutable').header('accept-ranges', 'bytes');
      const range = byteRange(req.headers.range, info.size);
      if (range === 'unsatisfiable') return reply.status(416).header('content-range', `bytes */${info.size}`).send();
      const blob = await deps.store.openBlob(id, name, range ?? undefined);
      if (!blob) throw new NotFoundError('file not found (archived files expire with their task)');
      if (!range) return sendBlob(reply, blob);
      return reply
        .status(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${info.size}`)
        .header('content-length', range.end - range.start + 1)
        .type(blob.type)
        .send(blob.body);
    });
  };
}

/** Whether a request path is a file URL, which carries its own permission instead of a key. */
export const isFilePath = (path: string) => path.startsWith('/v1/files/');
