import { pino } from 'pino';
import type { Config } from './config.js';
import type { Redactor } from './domain/redact.js';

export type Logger = pino.Logger;

/**
 * stdout carries JSON-RPC only, so logs go to stderr. Secrets are redacted wherever they appear:
 * fields named like credentials by path, and every finished line (messages, errors and their
 * causes, upstream bodies) by the app's Redactor, which knows the secrets this server holds.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, redactor?: Redactor): Logger {
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
          '*.headers["x-ray-authorization"]',
        ],
        censor: '[redacted]',
      },
      ...(redactor && { hooks: { streamWrite: (line: string) => redactor.logLine(line) } }),
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
