import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorReplies } from './errors.js';

/**
 * Fastify's `clientErrorHandler`: answers what Node's HTTP parser refuses before Fastify sees a
 * request (a URL or headers over the 16 KB limit → 431, a malformed request → 400, a request that
 * took too long → 408) in the format of the family whose path the request line names, else the
 * core's.
 */
export function createClientErrorHandler(replies: Pick<ErrorReplies, 'bodyForUrl'>) {
  return function clientErrorHandler(this: { log: FastifyBaseLogger }, err: Error & { code?: string; rawPacket?: unknown }, socket: Socket) {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const message =
      status === 431 ? 'request: the URL and headers together exceed 16 KB' : status === 408 ? 'request: took too long to arrive' : 'request: not a well-formed HTTP request';
    const line = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 256).toString('latin1') : '';
    const url = /^[A-Z]+ (\S+)/.exec(line)?.[1] ?? '/';
    const body = JSON.stringify(replies.bodyForUrl(url, { status, type: 'invalid_request_error', message, param: 'request' }));
    this.log.info({ status, code: err.code }, 'client error');
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}
