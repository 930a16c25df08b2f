import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout. Requests are never logged one by one at info. */
export function createLogger(service: string, replicaId: string, level: string): Logger {
  return pino({ level, base: { service, replica: replicaId } });
}
