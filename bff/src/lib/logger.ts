import pino, { type Logger } from 'pino';
import { REDACT_PATHS } from './mask';

export type { Logger };

/**
 * The process logger: JSON lines, secrets and PII fields redacted. To standard output, or appended to `file`
 * (LOG_FILE; written synchronously, so every line is on disk when the process or a test reads it).
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, file?: string): Logger {
  const options = {
    level,
    base: { service: 'bff', ...base },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return file ? pino(options, pino.destination({ dest: file, mkdir: true, sync: true })) : pino(options);
}
