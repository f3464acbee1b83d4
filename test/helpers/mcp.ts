/**
 * Real MCP clients against ray-mcp: the built server over stdio (as Claude Desktop runs it), or
 * the same app in-process over InMemoryTransport.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CallToolResult,
  Client,
  type ClientOptions,
  InMemoryTransport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { expect, inject } from 'vitest';
import type { ActorOverrides, ChildWrappers } from '../../src/actors/system.js';
import { type App, createApp } from '../../src/app.js';
import { type Flags, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { ToolCatalog } from '../../src/mcp/tool-catalog.js';

export const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'ray-mcp.js');

export function scratchDir(prefix = 't'): string {
  return mkdtempSync(join(inject('testRoot'), `${prefix}-`));
}

/** The environment a test server runs with: the real one, minus settings that would leak in. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('RAY_MCP_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS')
      env[k] = v;
  }
  return {
    ...env,
    RAY_MCP_DATA_DIR: scratchDir('data'),
    // Short, and under the test root: the suite's leak check finds any Ray process by it.
    RAY_MCP_TEMP_ROOT: scratchDir('t'),
    RAY_MCP_LOG_LEVEL: 'warn',
    // Suites that do not test the exit policy or short waits: nothing outlives a server, waits go as asked.
    RAY_MCP_ON_EXIT: 'stop',
    RAY_MCP_MAX_WAIT: '900',
    // Tests that are not about confirmation act at once (test/unit/confirm.test.ts is).
    RAY_MCP_CONFIRM: 'never',
    ...extra,
  };
}

export interface StdioServer {
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  stderr(): string;
  close(): Promise<void>;
}

export async function startStdioServer(
  opts: { args?: string[]; env?: Record<string, string>; clientOptions?: ClientOptions } = {},
): Promise<StdioServer> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN, ...(opts.args ?? [])],
    env: baseEnv(opts.env),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'ray-mcp-tests', version: '1.0.0' }, opts.clientOptions);
  await client.connect(transport);
  return {
    client,
    transport,
    pid: transport.pid!,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

export interface InMemoryServer {
  client: Client;
  app: App;
  close(): Promise<void>;
}

export async function startInMemoryServer(
  flags: Flags = {},
  env: Record<string, string> = {},
  options: {
    actors?: ActorOverrides;
    wrap?: ChildWrappers;
    clientOptions?: ClientOptions;
    /** The bundle's kind of catalog (src/mcp/tool-catalog.ts prebuiltCatalog); default: from source. */
    catalog?: ToolCatalog;
  } = {},
): Promise<InMemoryServer> {
  const config = loadConfig(flags, baseEnv(env));
  const app = await createApp(config, {
    log: createLogger({ logLevel: 'warn' }),
    actors: options.actors,
    wrap: options.wrap,
    catalog: options.catalog,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  // As main.ts serves stdio: the SDK's entry answers both eras (2025 initialize, 2026-07-28 discover).
  serveStdio(() => app.server, { transport: serverSide });
  const client = new Client({ name: 'ray-mcp-tests', version: '1.0.0' }, options.clientOptions);
  await client.connect(clientSide);
  return {
    client,
    app,
    async close() {
      await client.close();
      await app.close('test done');
    },
  };
}

/** Calls a tool and fails the test with the tool's own message when it returns an error. */
export async function callOk<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
  timeout = 180_000,
): Promise<T> {
  const result = await client.callTool({ name, arguments: args }, { timeout });
  if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
  return result.structuredContent as T;
}

export function textOf(result: CallToolResult): string {
  return result.content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

/**
 * Tool calls that keep every raw result in `seen`, so a test can check at the end that no secret
 * reached any of them: `call` (as is), `ok` (fails the test on an error result), `fails` (expects
 * an error result matching `pattern`).
 */
export function recordedCalls(seen: string[], timeout = 120_000) {
  async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
    const res = await client.callTool({ name, arguments: args }, { timeout });
    seen.push(JSON.stringify(res));
    return res;
  }
  async function ok<T = Record<string, unknown>>(
    client: Client,
    name: string,
    args: Record<string, unknown> = {},
  ) {
    const res = await call(client, name, args);
    if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
    return res.structuredContent as T;
  }
  async function fails(client: Client, name: string, args: Record<string, unknown>, pattern: RegExp) {
    const res = await call(client, name, args);
    expect(res.isError, `${name} should fail; got ${textOf(res)}`).toBe(true);
    expect(textOf(res)).toMatch(pattern);
    return textOf(res);
  }
  return { call, ok, fails };
}
