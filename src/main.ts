#!/usr/bin/env node
/**
 * The command line: parse flags, validate settings once, serve MCP over stdio, and shut down
 * cleanly (every actor and child process stopped) on SIGINT, SIGTERM or stdin closing.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { Command, Option } from 'commander';
import { createApp } from './app.js';
import { ConfigError, type Flags, LOG_LEVELS, loadConfig, ON_EXIT } from './config.js';
import { BoundedStdioTransport } from './mcp/stdio.js';
import { VERSION } from './version.js';

const program = new Command()
  .name('ray-mcp')
  .description('MCP server that runs Ray: local and Kubernetes (KubeRay, GKE, EKS) clusters, jobs and logs.')
  .version(VERSION, '-v, --version')
  .option('--ray-bin <path>', 'Ray CLI to use (env RAY_MCP_RAY_BIN; default: the project .venv, then PATH)')
  .option(
    '--data-dir <dir>',
    'where ray-mcp keeps its state (env RAY_MCP_DATA_DIR; default ~/.local/share/ray-mcp)',
  )
  .addOption(
    new Option('--log-level <level>', 'log level on stderr (env RAY_MCP_LOG_LEVEL; default info)').choices(
      LOG_LEVELS,
    ),
  )
  .option('--read-only', 'serve only read-only tools (env RAY_MCP_READ_ONLY=1)')
  .option(
    '--no-destructive',
    'leave out destructive tools such as stop and cancel (env RAY_MCP_NO_DESTRUCTIVE=1)',
  )
  .option(
    '--inspect [ws-url]',
    'stream the live actor system to the Stately inspector: alone, start a bridge on 127.0.0.1 and log its page; ' +
      'with a ws:// URL, send to that bridge (env RAY_MCP_INSPECT)',
  )
  .option(
    '--inspect-port <port>',
    'port of the inspector bridge (env RAY_MCP_INSPECT_PORT; default: any free port)',
  )
  .option('--request-timeout <seconds>', 'longest wait for an actor to answer a tool call (default 60)')
  .option('--shutdown-timeout <seconds>', 'longest clean shutdown before exiting anyway (default 15)')
  .option(
    '--port-range <from-to>',
    'ports ray-mcp hands to the Ray clusters it starts (env RAY_MCP_PORT_RANGE; default 20000-32767)',
  )
  .option(
    '--temp-root <dir>',
    "parent of the clusters' temp dirs, at most 28 characters (env RAY_MCP_TEMP_ROOT; default /tmp/ray-mcp)",
  )
  .option(
    '--max-message-bytes <bytes>',
    'longest JSON-RPC message accepted on stdin; longer ones are refused with an error (env RAY_MCP_MAX_MESSAGE_BYTES; default 4194304)',
  )
  .addOption(
    new Option(
      '--on-exit <what>',
      'stop: stop the clusters this server started when it exits; keep: leave them running for the next run to adopt (env RAY_MCP_ON_EXIT; default stop)',
    ).choices(ON_EXIT),
  )
  .addHelpText(
    'after',
    '\nAdd to an MCP client (Claude Desktop, Cursor, MCP Inspector) as a stdio server:\n  {"command": "npx", "args": ["ray-mcp"]}',
  );

async function main(): Promise<void> {
  program.parse();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(program.opts<Flags>());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ray-mcp: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const app = await createApp(config);
  const { log } = app;
  let exiting = false;
  const exit = (reason: string, code = 0) => {
    if (exiting) return;
    exiting = true;
    // However shutdown goes, the process ends within the bound.
    setTimeout(() => {
      log.error('shutdown took too long; exiting anyway');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2000).unref();
    app.close(reason).then(
      () => process.exit(code),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };

  process.on('SIGINT', () => exit('SIGINT'));
  process.on('SIGTERM', () => exit('SIGTERM'));
  process.on('SIGHUP', () => exit('SIGHUP'));
  process.stdin.on('end', () => exit('stdin closed'));
  process.stdin.on('close', () => exit('stdin closed'));
  // Actors handle their own failures (the supervisor restarts what fails); an exception that still
  // gets here is a bug outside them: logged, and the clusters and jobs being watched go on.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception (a bug in ray-mcp); serving on');
  });
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled rejection');
  });

  // The SDK's stdio entry serves 2025 clients as before and, for 2026-07-28 clients, answers
  // `subscriptions/listen` itself, routing our resource updates to the listeners. Our wire under it
  // bounds each message and answers bad lines instead of going deaf (src/mcp/stdio.ts); stdin's
  // end (above) still ends the process.
  const transport = new BoundedStdioTransport(process.stdin, process.stdout, {
    maxMessageBytes: config.maxMessageBytes,
    onRefused: (what, bytes) => log.warn({ what, bytes }, 'stdin line refused'),
  });
  serveStdio(() => app.server, { transport, onerror: (err) => log.warn({ err }, 'stdio transport error') });
  log.info(
    { version: VERSION, readOnly: config.readOnly, destructive: config.destructive },
    'ray-mcp ready on stdio',
  );
}

main().catch((err) => {
  process.stderr.write(`ray-mcp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
