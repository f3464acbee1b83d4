/**
 * Wires one ray-mcp instance: logger, inspector, actor system, MCP server. main.ts connects it to
 * stdio; tests connect it to an in-memory transport.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import { type Inspection, startInspection } from './actors/inspector.js';
import { type ActorOverrides, type ChildWrappers, RaySystem } from './actors/system.js';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import type { ResourceWatches } from './mcp/resources.js';
import { createMcpServer } from './mcp/server.js';

export interface App {
  config: Config;
  log: Logger;
  system: RaySystem;
  server: McpServer;
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
  const log = options.log ?? createLogger(config);
  const inspection = await startInspection(config, log);
  const system = await RaySystem.create({
    config,
    log,
    inspect: inspection?.inspect,
    actors: options.actors,
    wrap: options.wrap,
  });
  const server = createMcpServer({ port: system.port, config, log });
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    system,
    server,
    newServer: (watches) => createMcpServer({ port: system.port, config, log, watches }),
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
