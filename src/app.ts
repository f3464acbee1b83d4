/**
 * Wires one ray-mcp instance: logger, inspector, actor system, MCP server. main.ts connects the
 * front (createFront) to stdio and starts the system beside it; tests take the whole app, started
 * (createApp), and connect it to an in-memory transport.
 */
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Inspection } from './actors/inspector.js';
import type { ToolPort } from './actors/port.js';
import type { ActorOverrides, ChildWrappers, RaySystem } from './actors/system.js';
import { AUDIT_FILE, AuditLog } from './clients/audit-log.js';
import type { Config } from './config.js';
import { Redactor } from './domain/redact.js';
import { createLogger, type Logger } from './logger.js';
import type { ResourceWatches } from './mcp/resources.js';
import { createMcpServer } from './mcp/server.js';
import { loadToolCatalog, type ToolCatalog } from './mcp/tool-catalog.js';

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

/**
 * The MCP side of an app, ready to answer before the actor system runs: initialize, tools/list,
 * prompts/list need no actor, and a tool call waits for `start()` (which it triggers). main.ts
 * connects stdio first and starts the system right after, so a client's handshake is answered
 * without waiting for the supervisor, its machines and the clients' modules to load.
 */
export interface Front {
  config: Config;
  log: Logger;
  server: McpServer;
  audit: AuditLog;
  redactor: Redactor;
  newServer(watches?: ResourceWatches): McpServer;
  /** Loads and starts the actor system, once; every tool call waits for it. */
  start(): Promise<App>;
  /** The app once `start()` has finished, else undefined. */
  started(): App | undefined;
  /** Closes what runs: the app if it started (waiting for a start under way), else the server. Idempotent. */
  close(reason: string): Promise<void>;
}

type AppOptions = {
  log?: Logger;
  actors?: ActorOverrides;
  wrap?: ChildWrappers;
  /** The tools (default: loadToolCatalog, the build's); tests pass the bundle's kind from source. */
  catalog?: ToolCatalog;
};

export async function createFront(config: Config, options: AppOptions = {}): Promise<Front> {
  // One redactor for the app. The secrets of the config and environment are in it before the first
  // log line; the credential files' are read as the system starts, before any tool runs.
  const redactor = new Redactor();
  redactor.add(...config.secrets);
  const log = options.log ?? createLogger(config, redactor);
  const audit = new AuditLog({
    path: join(config.dataDir, AUDIT_FILE),
    onError: (err) => log.warn({ err }, 'audit log not written (further failures are not logged)'),
    redact: (line) => redactor.text(line),
  });
  let starting: Promise<App> | undefined;
  let app: App | undefined;
  const port = deferredPort(() => start().then((a) => a.system.port));
  // From the bundle: the build's tool cards; the tools' schemas and handlers load with the system.
  const catalog = options.catalog ?? (await loadToolCatalog());
  const newServer = (watches?: ResourceWatches) =>
    createMcpServer({ port, config, log, audit, redactor, watches, catalog });
  const server = newServer();
  let closing: Promise<void> | undefined;
  const start = (): Promise<App> => {
    // Closed before it started: nothing starts any more (a late call would leave a system running).
    if (closing && !starting)
      return Promise.reject(new Error('ray-mcp is shutting down; the actor system was not started'));
    starting ??= startSystem(config, options, {
      log,
      redactor,
      audit,
      server,
      newServer,
      catalog,
    }).then((a) => {
      app = a;
      return a;
    });
    return starting;
  };
  return {
    config,
    log,
    server,
    audit,
    redactor,
    newServer,
    start,
    started: () => app,
    close(reason) {
      closing ??= (async () => {
        const running = starting && (await starting.catch(() => undefined));
        if (running) return running.close(reason);
        await server.close().catch(() => {});
        await audit.flush();
      })();
      return closing;
    },
  };
}

/** The whole app, started: what the tests use. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  return (await createFront(config, options)).start();
}

async function startSystem(
  config: Config,
  options: AppOptions,
  front: Pick<Front, 'log' | 'redactor' | 'audit' | 'server' | 'newServer'> & {
    catalog: ToolCatalog;
  },
): Promise<App> {
  const { log, redactor, audit, server } = front;
  // Loaded here, not at import: the actor system, its machines and clients are the bulk of ray-mcp;
  // the tools' schemas and handlers too, so the first call does not wait for them.
  const [{ RaySystem }] = await Promise.all([
    import('./actors/system.js'),
    import('./clients/secret-sources.js').then(({ registerSecretSources }) =>
      registerSecretSources(config, redactor),
    ),
    // Loaded ahead of the first call; a failure here is that call's to report (it loads again).
    front.catalog.tool(front.catalog.cards[0]!.name).catch(() => undefined),
  ]);
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
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    system,
    server,
    audit,
    redactor,
    newServer: front.newServer,
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

/** A port whose calls wait for the actor system (and start it); observe needs it running, as a call does first. */
function deferredPort(system: () => Promise<ToolPort>): ToolPort {
  let ready: ToolPort | undefined;
  return {
    async run(type, input, options) {
      ready ??= await system();
      return ready.run(type, input, options);
    },
    observe: (systemId, listener, onEnd) => ready?.observe(systemId, listener, onEnd),
  };
}
