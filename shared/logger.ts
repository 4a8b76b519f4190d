import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry secrets: keys, upstream secrets, webhook secrets and request bodies with
 * images. pino replaces them before anything is written.
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers["mj-api-secret"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["mj-api-secret"]',
  'secret',
  'key',
  'apiKey',
  '*.secret',
  '*.apiKey',
  'body',
  'req.body',
  '*.base64',
  '*.base64Array',
  '*.maskBase64',
  '*.sourceBase64',
  '*.targetBase64',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'relayq' },
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
