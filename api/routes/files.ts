import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../shared/errors.js';
import { blobNameOfFile } from '../../shared/files.js';
import type { TaskStore } from '../../shared/tasks/store.js';
import { parse } from '../errors.js';
import { sendBlob } from '../replay.js';

const params = z.object({ id: z.string().max(64), file: z.string().max(128) });

/**
 * `GET /v1/files/{task id}/{file}`: an archived output (ARCHIVE_OUTPUTS), streamed from the blob
 * store for as long as its task is kept. No key: the unguessable file token in the URL is the
 * permission (so `<img src>` and media players can use it), as with a presigned URL.
 */
export function fileRoutes(deps: { store: Pick<TaskStore, 'openBlob'> }) {
  return async function plugin(app: FastifyInstance) {
    app.get('/v1/files/:id/:file', async (req, reply) => {
      const { id, file } = parse(params, req.params, 'file');
      const name = blobNameOfFile(file);
      const blob = name ? await deps.store.openBlob(id, name) : null;
      if (!blob) throw new NotFoundError('file not found (archived files expire with their task)');
      // The bytes behind one URL never change.
      void reply.header('cache-control', 'private, max-age=86400, immutable');
      return sendBlob(reply, blob);
    });
  };
}

/** Whether a request path is a file URL, which carries its own permission instead of a key. */
export const isFilePath = (path: string) => path.startsWith('/v1/files/');
