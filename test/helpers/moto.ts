/**
 * moto's server (the AWS emulator, installed by scripts/setup-moto.sh) on a free 127.0.0.1 port,
 * one per test file. It runs through a link under the test root, so the suite's leak check
 * finds it if a test forgets to stop it; stop() ends its whole process group.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

export interface Moto {
  url: string;
  stop(): Promise<void>;
  reset(): Promise<void>;
  output(): string;
}

export function motoServerPath(): string {
  if (process.env.RAY_MCP_MOTO_SERVER) return process.env.RAY_MCP_MOTO_SERVER;
  const cache =
    process.env.RAY_MCP_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ray-mcp');
  const pointer = join(cache, 'moto-server-path');
  const path = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : '';
  if (!path || !existsSync(path)) {
    throw new Error(
      'moto_server is not installed: run `bash scripts/setup-moto.sh` (npm test does it first).',
    );
  }
  return path;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(): Promise<Moto> {
  const dir = mkdtempSync(join(inject('testRoot'), 'moto-'));
  const link = join(dir, 'moto_server');
  symlinkSync(motoServerPath(), link);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let out = '';
  const child: ChildProcess = spawn(link, ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOTO_PORT: String(port) },
  });
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {}
    const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!killed) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      await exited;
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited at start:\n${out}`);
    try {
      const res = await fetch(`${url}/moto-api/reset`, { method: 'POST' });
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer within 60 s:\n${out}`);
    }
    await sleep(200);
  }
  return {
    url,
    stop,
    output: () => out,
    async reset() {
      await fetch(`${url}/moto-api/reset`, { method: 'POST' });
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
