// One pino logger for the process. Level from DUCKGATE_LOG_LEVEL (default info); tests default to silent.
import { pino, type Logger } from 'pino';

const level = process.env.DUCKGATE_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');

export const logger: Logger = pino({ level, base: { app: 'duckgate' } });
export type { Logger };
