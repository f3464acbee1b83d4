/**
 * Wires one ray-mcp instance: logger, inspector, actor system, MCP server. main.ts connects it to
 * stdio; tests connect it to an in-memory transport.
 */
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Inspection } from './actors/inspector.js';
import { type ActorOverrides, type ChildWrappers, RaySystem } from './actors/system.js';
import { AUDIT_FILE, AuditLog } from './clients/audit-log.js';
import { registerSecretSources } from './clients/secret-sources.js';
import type { Config } from './config.js';
import { Redactor } from './domain/redact.js';
import { createLogger, type Logger } from './logger.js';
import type { ResourceWatches } from './mcp/resources.js';
import { createMcpServer } from './mcp/server.js';

export interface App {
  config: Config;
  log: Logger;
  system: RaySystem;
  server: McpServer;
  /** `<data dir>/audit.jsonl`: one line per tool call that changes something. */
  audit: AuditLog;
  /** Knows every secret this server holds; results, logs and the data dir are scrubbed with it. */
  redactor: Redactor;
  /** A further MCP server on the same actor system (the HTTP front makes one per session or request). */
  newServer(watches?: ResourceWatches): McpServer;
  inspection?: Inspection;
  /** Stops the actors, every child process, the inspector and the MCP connection. Idempotent. */
  close(reason: string): Promise<void>;
}

export async function createApp(
  config: Config,
  options: { log?: Logger; actors?: ActorOverrides; wrap?: ChildWrappers } = {},
): Promise<App> {
  // One redactor for the app: secret sources register with it before anything is logged or answered.
  const redactor = new Redactor();
  await registerSecretSources(config, redactor);
  const log = options.log ?? createLogger(config, redactor);
  const inspection =
    config.inspect === false
      ? undefined
      : await import('./actors/inspector.js').then(({ startInspection }) => startInspection(config, log));
  const system = await RaySystem.create({
    config,
    log,
    inspect: inspection?.inspect,
    actors: options.actors,
    wrap: options.wrap,
    redactor,
  });
  const audit = new AuditLog({
    path: join(config.dataDir, AUDIT_FILE),
    onError: (err) => log.warn({ err }, 'audit log not written (further failures are not logged)'),
    redact: (line) => redactor.text(line),
  });
  const server = createMcpServer({ port: system.port, config, log, audit, redactor });
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    system,
    server,
    audit,
    redactor,
    newServer: (watches) => createMcpServer({ port: system.port, config, log, audit, redactor, watches }),
    inspection,
    close(reason) {
      closing ??= (async () => {
        await system.shutdown(reason);
        await server.close().catch(() => {});
        await audit.flush();
        await inspection?.stop();
      })();
      return closing;
    },
  };
}
