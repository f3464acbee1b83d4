/**
 * A ray-mcp server over InMemoryTransport whose I/O actors are a FakeWorld's, with a real MCP
 * client, for handler tests that take milliseconds. Every server a test starts is closed after it,
 * whatever the outcome.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, expect } from 'vitest';
import type { Flags } from '../../src/config.js';
import type { ToolCatalog } from '../../src/mcp/tool-catalog.js';
import { FakeWorld } from './fake-world.js';
import { type InMemoryServer, startInMemoryServer, textOf } from './mcp.js';

export interface FakeServer {
  world: FakeWorld;
  client: Client;
  server: InMemoryServer;
}

/** Structured results, read loosely: the tests assert on stable fields only. */
// biome-ignore lint/suspicious/noExplicitAny: tool results are checked field by field
export type Result = Record<string, any>;

/** Call in a describe (or at file level): returns `start`, which makes a server on a fresh world. */
export function fakeServers() {
  const open: InMemoryServer[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((s) => s.close()));
  });
  return async function start(
    setup?: (world: FakeWorld) => void,
    flags: Flags = {},
    catalog?: ToolCatalog,
  ): Promise<FakeServer> {
    const world = new FakeWorld();
    setup?.(world);
    // Confirmation off unless a test is about it (test/unit/confirm.test.ts). A short request timeout: a fake that never answers fails the case in seconds, not minutes.
    const server = await startInMemoryServer(
      { requestTimeout: '5', confirm: 'never', ...flags },
      {},
      { actors: world.actors, catalog },
    );
    open.push(server);
    return { world, client: server.client, server };
  };
}

/** Calls a tool that must succeed; returns its structured result. */
export async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Result> {
  const res = await client.callTool({ name, arguments: args }, { timeout: 10_000 });
  expect(res.isError, `${name} failed: ${textOf(res)}`).toBeFalsy();
  return res.structuredContent as Result;
}

/** Calls a tool that must refuse: an isError result whose text matches every pattern. Returns the text. */
export async function refused(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  ...patterns: RegExp[]
): Promise<string> {
  const res = await client.callTool({ name, arguments: args }, { timeout: 10_000 });
  const text = textOf(res);
  expect(res.isError, `${name} should fail; got ${text}`).toBe(true);
  expect(res.structuredContent).toBeUndefined();
  for (const p of patterns) expect(text).toMatch(p);
  return text;
}

/** A zod validation refusal by the MCP server, naming the argument. */
export const invalidArg = (arg: string) => new RegExp(`Input validation error[\\s\\S]*${arg}`);
