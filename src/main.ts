#!/usr/bin/env node
/**
 * The command line: parse flags, validate settings once, serve MCP over stdio, and shut down
 * cleanly (every actor and child process stopped) on SIGINT, SIGTERM or stdin closing.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { Command, Option } from 'commander';
import { type App, createFront } from './app.js';
import { CONFIRM_POLICIES, ConfigError, type Flags, LOG_LEVELS, loadConfig, ON_EXIT } from './config.js';
import type { HttpFront } from './mcp/http.js';
import { BoundedStdioTransport } from './mcp/stdio.js';
import { VERSION } from './version.js';

/** Longest the actor system waits for the stdio handshake before it starts anyway. */
const HANDSHAKE_GRACE_MS = 500;

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
    '--toolsets <list>',
    'serve only these groups of tools: local (clusters, jobs, logs), kuberay (those plus Kubernetes and RayJobs), ' +
      'cloud (GKE/EKS), or all (env RAY_MCP_TOOLSETS; default all)',
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
  .option(
    '--max-wait <seconds>',
    'longest a tool call waits when its client sent no progressToken; it then returns the state so far and the work goes on (env RAY_MCP_MAX_WAIT; default 45)',
  )
  .option('--shutdown-timeout <seconds>', 'longest clean shutdown before exiting anyway (default 15)')
  .option(
    '--port-range <from-to>',
    'ports ray-mcp hands to the Ray clusters it starts (env RAY_MCP_PORT_RANGE; default 20000-32767)',
  )
  .option(
    '--temp-root <dir>',
    "parent of the clusters' temp dirs, at most 28 bytes (env RAY_MCP_TEMP_ROOT; default /tmp/ray-mcp)",
  )
  .option(
    '--max-message-bytes <bytes>',
    'longest JSON-RPC message accepted on stdin; longer ones are refused with an error (env RAY_MCP_MAX_MESSAGE_BYTES; default 4194304)',
  )
  .addOption(
    new Option(
      '--confirm <policy>',
      'when a call needs a yes first: destructive (deleting, stopping running work, creating billed clusters), ' +
        'always (every destructive or billed call) or never (env RAY_MCP_CONFIRM; default destructive)',
    ).choices(CONFIRM_POLICIES),
  )
  .addOption(
    new Option(
      '--on-exit <what>',
      'auto: at exit keep the clusters with running or pending jobs (the next run adopts them) and stop idle ones; stop: stop them all; keep: keep them all (env RAY_MCP_ON_EXIT; default auto)',
    ).choices(ON_EXIT),
  )
  .option(
    '--http <[host:]port>',
    'serve MCP over streamable HTTP at http://host:port/mcp (env RAY_MCP_HTTP); host defaults to 127.0.0.1, ' +
      'any other bind needs a token. With --http, stdio is off unless --stdio is given',
  )
  .option(
    '--http-token-file <file>',
    'file holding the bearer token HTTP clients must send (env RAY_MCP_HTTP_TOKEN holds the token itself)',
  )
  .option(
    '--http-allowed-hosts <names>',
    'comma-separated Host names HTTP clients may use besides localhost (env RAY_MCP_HTTP_ALLOWED_HOSTS)',
  )
  .option('--stdio', 'with --http, serve stdio as well (env RAY_MCP_STDIO=1)')
  .addHelpText(
    'after',
    '\nAdd to an MCP client (Claude Desktop, Cursor, MCP Inspector) as a stdio server:\n  {"command": "npx", "args": ["ray-mcp"]}' +
      '\nOr run it as a long-lived HTTP server and point clients at http://127.0.0.1:8000/mcp:\n  ray-mcp --http 8000' +
      "\nInstall the pinned Ray first with 'ray-mcp setup'.",
  );

let subcommand: Promise<number> | undefined;
program
  .command('setup')
  .description(
    'install the pinned Ray into the cache venv (~/.cache/ray-mcp/venvs), where the server finds it',
  )
  .action(() => {
    // Loaded only for this command (as the HTTP front only with --http): start-up stays light.
    subcommand = import('./setup.js').then(({ runSetup }) => runSetup());
  });
// Without a subcommand: serve.
program.action(() => {});

async function main(): Promise<void> {
  program.parse();
  if (subcommand) process.exit(await subcommand);
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

  const front = await createFront(config);
  const { log } = front;
  let http: HttpFront | undefined;
  let exiting = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const exit = (reason: string, code = 0) => {
    if (exiting) return;
    exiting = true;
    clearTimeout(graceTimer);
    // However shutdown goes, the process ends within the bound.
    setTimeout(() => {
      log.error('shutdown took too long; exiting anyway');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2000).unref();
    Promise.resolve(http?.close())
      .catch((err) => log.warn({ err }, 'http front did not close cleanly'))
      .then(() => front.close(reason))
      .then(
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
  // A debug figure, outside the tools: how many actors live and how big the registries are (the soak
  // and the fuzz suite read it). Asked for explicitly, so it is logged whatever --log-level says.
  const statsLog = log.child({}, { level: 'info' });
  process.on('SIGUSR2', () => {
    // Asked for during start: answered once the system runs.
    front.start().then(
      (app) => statsLog.info({ stats: app.system.stats() }, 'stats'),
      () => {},
    );
  });
  if (config.stdio) {
    process.stdin.on('end', () => exit('stdin closed'));
    process.stdin.on('close', () => exit('stdin closed'));
  }
  // Actors handle their own failures (the supervisor restarts what fails); an exception that still
  // gets here is a bug outside them: logged, and the clusters and jobs being watched go on.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception (a bug in ray-mcp); serving on');
  });
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled rejection');
  });

  // The actor system (the bulk of ray-mcp) starts once the client has what a handshake asks for, or
  // at once for HTTP; a call that comes first starts it itself (and waits for it). A system that
  // cannot start ends the process as it always did.
  let started: Promise<App> | undefined;
  const startSystem = () => {
    if (started) return started;
    started = front.start();
    started.catch((err) => {
      log.fatal({ err }, 'the actor system did not start');
      exit('start failed', 1);
    });
    return started;
  };
  if (config.http) {
    // A system that did not start is logged and exits above: once is enough.
    const app = await startSystem().catch(() => undefined);
    if (!app) return;
    try {
      const { startHttpFront } = await import('./mcp/http.js');
      http = await startHttpFront({
        settings: config.http,
        log,
        port: app.system.port,
        newServer: (watches) => front.newServer(watches),
      });
    } catch (err) {
      log.error({ err }, `cannot serve http on ${config.http.host}:${config.http.port}`);
      return exit('http front failed', 1);
    }
  }
  if (!config.stdio) return;

  // The SDK's stdio entry serves 2025 clients as before and, for 2026-07-28 clients, answers
  // `subscriptions/listen` itself, routing our resource updates to the listeners. Our wire under it
  // bounds each message and answers bad lines instead of going deaf (src/mcp/stdio.ts); stdin's
  // end (above) still ends the process.
  const transport = new BoundedStdioTransport(process.stdin, process.stdout, {
    maxMessageBytes: config.maxMessageBytes,
    onRefused: (what, bytes) => log.warn({ what, bytes }, 'stdin line refused'),
    // Two messages written: the answer to initialize and, as a rule, to tools/list.
    onSent: (count) => void (count >= 2 && startSystem()),
  });
  // However the client goes about it, the system is up soon after the process.
  graceTimer = setTimeout(startSystem, HANDSHAKE_GRACE_MS);
  serveStdio(() => front.server, { transport, onerror: (err) => log.warn({ err }, 'stdio transport error') });
  log.info(
    { version: VERSION, readOnly: config.readOnly, destructive: config.destructive },
    'ray-mcp ready on stdio',
  );
}

main().catch((err) => {
  process.stderr.write(`ray-mcp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
