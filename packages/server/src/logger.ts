import { pino, type Logger } from 'pino';

/** Paths that could carry a secret; pino replaces them before anything is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.refresh_token',
  '*.refreshToken',
  '*.access_token',
  '*.accessToken',
];

/** The structured logger (JSON lines on stdout). It never receives passwords or tokens; the redaction is a second line of defence. */
export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'antpeer-auth' } });
}
