/** The one root logger. Secrets (tokens, signing secrets, response URLs) are redacted wherever they appear. */
import { pino, type Logger as Pino } from 'pino';
import type { LogLevel } from './config/config.js';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'appToken',
  '*.appToken',
  'signingSecret',
  '*.signingSecret',
  'response_url',
  '*.response_url',
  'responseUrl',
  'headers.authorization',
  '*.headers.authorization',
  'err.config.headers',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Pino {
  return pino(
    {
      name: 'dormouse',
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination as never,
  );
}
