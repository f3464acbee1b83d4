/** A ray-mcp server over stdio for benchmarks, with its own data dir and temp root. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { projectRoot } from '../src/paths.js';

export interface BenchClient {
  client: Client;
  pid: number;
  tempRoot: string;
  close(): Promise<void>;
}

export async function openClient(extraArgs: string[] = []): Promise<BenchClient> {
  const data = mkdtempSync(join(tmpdir(), 'rbd-'));
  const tempRoot = mkdtempSync(join(tmpdir(), 'rbt-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      join(projectRoot, 'dist', 'ray-mcp.js'),
      '--log-level',
      'warn',
      '--data-dir',
      data,
      '--temp-root',
      tempRoot,
      ...extraArgs,
    ],
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return {
    client,
    pid: transport.pid!,
    tempRoot,
    async close() {
      await client.close();
      rmSync(data, { recursive: true, force: true });
      rmSync(tempRoot, { recursive: true, force: true });
    },
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
