import pino, { type Logger } from 'pino';
import { REDACT_PATHS } from './mask';

export type { Logger };

/** The process logger: JSON lines, secrets and PII fields redacted. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'bff', ...base },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
