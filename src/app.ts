/**
 * Wires one ray-mcp instance: logger, inspector, actor system, MCP server. main.ts connects it to
 * stdio; tests connect it to an in-memory transport.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import { type Inspection, startInspection } from './actors/inspector.js';
import { type ActorOverrides, type ChildWrappers, RaySystem } from './actors/system.js';
import { registerSecretSources } from './clients/secret-sources.js';
import type { Config } from './config.js';
import { Redactor } from './domain/redact.js';
import { createLogger, type Logger } from './logger.js';
import { createMcpServer } from './mcp/server.js';

export interface App {
  config: Config;
  log: Logger;
  system: RaySystem;
  server: McpServer;
  /** Knows every secret this server holds; results, logs and the data dir are scrubbed with it. */
  redactor: Redactor;
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
  const inspection = await startInspection(config, log);
  const system = await RaySystem.create({
    config,
    log,
    inspect: inspection?.inspect,
    actors: options.actors,
    wrap: options.wrap,
    redactor,
  });
  const server = createMcpServer({ port: system.port, config, log, redactor });
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    system,
    server,
    redactor,
    inspection,
    close(reason) {
      closing ??= (async () => {
        await system.shutdown(reason);
        await server.close().catch(() => {});
        await inspection?.stop();
      })();
      return closing;
    },
  };
}
