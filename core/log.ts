// Structured logging (pino, the logger fastify already uses): JSON lines on
// stderr, level from TIDEMARK_LOG_LEVEL (default info).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name = 'tidemark'): Logger {
  return pino({ name, level: process.env['TIDEMARK_LOG_LEVEL'] ?? 'info' }, pino.destination(2));
}

/** A logger that drops everything, for tests and one-shot commands. */
export const silentLogger: Logger = pino({ level: 'silent' });
