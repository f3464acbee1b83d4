/**
 * ray-mcp's HTTP front as a user runs it (`ray-mcp --http ...`, a child process), and the clients
 * that talk to it: the v1 TypeScript SDK (2025 revisions), the v2 client (2026-07-28) and the Python
 * `mcp` package (scripts/setup-mcp-python.sh installs it into the user cache).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { baseEnv, MAIN } from './mcp.js';
import { waitFor } from './processes.js';

export interface HttpServer {
  /** http://127.0.0.1:PORT/mcp */
  url: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then wait for the exit (SIGKILL after 30 s). */
  close(): Promise<number | null>;
}

export async function startHttpServer(
  opts: { args?: string[]; env?: Record<string, string> } = {},
): Promise<HttpServer> {
  const child = spawn(process.execPath, [MAIN, ...(opts.args ?? ['--http', '127.0.0.1:0'])], {
    env: baseEnv({ RAY_MCP_LOG_LEVEL: 'info', ...opts.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let url: string;
  try {
    url = await waitFor(
      'the server to listen',
      () => {
        if (child.exitCode !== null) throw new Error(`ray-mcp exited ${child.exitCode}:\n${stderr}`);
        return /"url":"(http:\/\/[^"]+)"/.exec(stderr)?.[1];
      },
      30_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    child,
    stderr: () => stderr,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const auth = (token?: string) => (token ? { headers: { Authorization: `Bearer ${token}` } } : {});

/** The v1 TypeScript SDK over streamable HTTP: the 2025 handshake and a session. */
export async function connectV1(url: string, token?: string): Promise<V1Client> {
  const client = new V1Client({ name: 'ray-mcp-tests-v1', version: '1.0.0' });
  await client.connect(new V1Transport(new URL(url), { requestInit: auth(token) }));
  return client;
}

/** The v2 client pinned to 2026-07-28: stateless, no initialize. */
export async function connectV2(url: string, token?: string): Promise<Client> {
  const client = new Client(
    { name: 'ray-mcp-tests-v2', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: auth(token) }));
  return client;
}

export function pythonMcp(): string {
  if (process.env.RAY_MCP_PY_MCP_PYTHON) return process.env.RAY_MCP_PY_MCP_PYTHON;
  const cache =
    process.env.RAY_MCP_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ray-mcp');
  const pointer = join(cache, 'mcp-python-path');
  const path = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : '';
  if (!path || !existsSync(path))
    throw new Error(
      'Python mcp is not installed: run `bash scripts/setup-mcp-python.sh` (npm test does it first).',
    );
  return path;
}

export interface PythonResult {
  tools: number;
  is_error: boolean;
  structured: Record<string, unknown> | null;
  text: string;
}

/** One tool call through the Python `mcp` package (`mode`: 'legacy' or '2026-07-28'). */
export function callPython(
  url: string,
  mode: string,
  token: string,
  tool: string,
  args: Record<string, unknown> = {},
): Promise<PythonResult> {
  const script = join(import.meta.dirname, 'mcp_http_client.py');
  return new Promise((resolve, reject) => {
    execFile(
      pythonMcp(),
      [script, url, mode, token, tool, JSON.stringify(args)],
      { timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`python mcp client failed: ${err.message}\n${stderr.slice(-2000)}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
        } catch {
          reject(new Error(`python mcp client printed no result:\n${stdout}\n${stderr.slice(-2000)}`));
        }
      },
    );
  });
}
