import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Header and field names whose values must never reach a log line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-airy-content-signature"]',
  'headers.authorization',
  'headers.cookie',
  '*.access_token',
  '*.refresh_token',
  '*.system_token',
  '*.source_token',
  '*.client_secret',
  '*.token',
  '*.password',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { svc: 'pd-bridge' } }, destination);
}
