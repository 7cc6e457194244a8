/**
 * The one root logger. Secrets (tokens, signing secrets, response URLs) are redacted wherever they appear.
 * Every line written while a correlation is under way (a Slack request, the flow it started, a scheduled
 * job) carries its `correlationId`, whichever logger or child logger writes it.
 */
import { pino, type Logger as Pino } from 'pino';
import type { LogLevel } from './config/config.js';
import { currentCorrelationId } from './core/ports/correlation.js';

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
      mixin: correlationMixin,
    },
    destination as never,
  );
}

/** What every line gets: the correlation under way, if any (a field the line itself sets wins). */
export function correlationMixin(): { correlationId?: string } {
  const correlationId = currentCorrelationId();
  return correlationId ? { correlationId } : {};
}
