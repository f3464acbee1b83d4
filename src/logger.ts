import { pino } from 'pino';
import type { Config } from './config.js';

export type Logger = pino.Logger;

/** stdout carries JSON-RPC only, so logs go to stderr. Secrets are redacted wherever they appear. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino(
    {
      name: 'ray-mcp',
      level: config.logLevel,
      redact: {
        paths: [
          'token',
          '*.token',
          '*.*.token',
          'authorization',
          '*.authorization',
          '*.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
