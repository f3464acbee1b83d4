/**
 * The built server as an MCP client runs it: over stdio, as a child process.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { baseEnv, MAIN, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { descendants, isAlive, waitFor } from '../helpers/processes.js';

const servers: StdioServer[] = [];
const raw: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
  for (const c of raw.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function start(opts: Parameters<typeof startStdioServer>[0] = {}) {
  const s = await startStdioServer(opts);
  servers.push(s);
  return s;
}

/** A stand-in Ray CLI that hangs, so a check_environment call keeps a child process running. */
function hangingRay(): string {
  const dir = scratchDir('fake-ray');
  const file = join(dir, 'ray');
  writeFileSync(file, `#!/bin/sh\npython3 -c 'import time; time.sleep(60)' "$0"\necho done\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Starts the server with bare pipes, to see every byte it writes to stdout. */
function spawnRaw(args: string[] = []) {
  const child = spawn(process.execPath, [MAIN, ...args], { env: baseEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  raw.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const send = (msg: object) => child.stdin!.write(`${JSON.stringify(msg)}\n`);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = () => stdout.split('\n').filter(Boolean);
  return { child, send, exited, lines, stdout: () => stdout, stderr: () => stderr };
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('ray-mcp over stdio', () => {
  it('lists its tools exactly as the golden file says', async () => {
    const s = await start();
    const { tools } = await s.client.listTools();
    await expect(`${JSON.stringify(tools, null, 2)}\n`).toMatchFileSnapshot(
      './__snapshots__/tools-list.json',
    );
  });

  it('writes nothing but JSON-RPC to stdout, logs included', async () => {
    const r = spawnRaw(['--log-level', 'debug']);
    r.send(initialize);
    r.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    r.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    r.send({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'check_environment', arguments: {} },
    });
    r.send({
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'check_environment', arguments: { x: 1 } },
    });
    r.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } });
    await waitFor('five responses', () => r.lines().length >= 5, 30_000);
    r.child.stdin!.end();
    await r.exited;
    for (const line of r.lines()) {
      const msg = JSON.parse(line);
      expect(msg.jsonrpc).toBe('2.0');
    }
    expect(
      r
        .lines()
        .map((l) => JSON.parse(l).id)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(r.stderr()).toContain('ray-mcp ready on stdio');
  });

  it('answers bad input with a clear error and keeps serving', async () => {
    const s = await start();
    const bogus = await s.client.callTool({ name: 'check_environment', arguments: { sections: ['bogus'] } });
    expect(bogus.isError).toBe(true);
    expect(textOf(bogus)).toMatch(/sections/);
    const extra = await s.client.callTool({ name: 'check_environment', arguments: { verbose: true } });
    expect(extra.isError).toBe(true);
    expect(textOf(extra)).toMatch(/verbose/);
    const good = await s.client.callTool({ name: 'check_environment', arguments: { sections: ['node'] } });
    expect(good.isError).toBeFalsy();
    expect(good.structuredContent).toMatchObject({ node: { found: true, version: process.version } });
    expect(good.structuredContent).not.toHaveProperty('ray');
  });

  it('says how to install Ray when the Ray CLI is missing', async () => {
    const s = await start({ args: ['--ray-bin', '/nonexistent/bin/ray'] });
    const res = await s.client.callTool({ name: 'check_environment', arguments: {} });
    expect(res.isError).toBeFalsy();
    const report = res.structuredContent as {
      ready: { localRay: boolean };
      ray: { found: boolean };
      fixes: string[];
    };
    expect(report.ready.localRay).toBe(false);
    expect(report.ray.found).toBe(false);
    expect(report.fixes.find((f) => f.startsWith('ray:'))).toMatch(/--ray-bin.*npm run setup/s);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('leaves no child process behind on %s', async (signal) => {
    const fakeRay = hangingRay();
    const s = await start({ args: ['--ray-bin', fakeRay] });
    const call = s.client.callTool({ name: 'check_environment', arguments: {} }).catch(() => undefined);
    const children = await waitFor('the hanging ray child', () => {
      const d = descendants(s.pid);
      return d.some((p) => p.cmdline.includes(fakeRay)) && d;
    });
    process.kill(s.pid, signal);
    await waitFor('the server to exit', () => !isAlive(s.pid), 20_000);
    await call;
    for (const c of children) expect(isAlive(c.pid), `${c.pid} ${c.cmdline}`).toBe(false);
  });

  it('shuts down when stdin closes, leaving no child process behind', async () => {
    const fakeRay = hangingRay();
    const r = spawn(process.execPath, [MAIN, '--ray-bin', fakeRay], {
      env: baseEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    raw.push(r);
    const exited = new Promise((resolve) => r.on('exit', resolve));
    r.stdin!.write(`${JSON.stringify(initialize)}\n`);
    r.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    r.stdin!.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'check_environment', arguments: {} } })}\n`,
    );
    const children = await waitFor('the hanging ray child', () => {
      const d = descendants(r.pid!);
      return d.some((p) => p.cmdline.includes(fakeRay)) && d;
    });
    r.stdin!.end();
    await exited;
    for (const c of children) expect(isAlive(c.pid), `${c.pid} ${c.cmdline}`).toBe(false);
  });

  it('streams the actor system to a Stately inspector bridge', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const messages: string[] = [];
    wss.on('connection', (ws) => ws.on('message', (d) => messages.push(d.toString())));
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as { port: number }).port;
    try {
      const s = await start({ args: ['--inspect', `ws://127.0.0.1:${port}`] });
      await s.client.callTool({ name: 'check_environment', arguments: { sections: ['node'] } });
      await waitFor('an inspection event for env.check', () =>
        messages.find((m) => m.includes('@xstate.event') && m.includes('env.check')),
      );
      const actors = messages.filter((m) => m.includes('@xstate.actor')).map((m) => JSON.parse(m));
      expect(actors.length).toBeGreaterThanOrEqual(2); // the supervisor and the environment actor
    } finally {
      wss.close();
    }
  });

  it('serves the inspector page itself on 127.0.0.1 with a bare --inspect', async () => {
    const s = await start({ args: ['--inspect', '--log-level', 'info'] });
    const page = await waitFor(
      'the inspector page URL in the log',
      () => /open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(s.stderr())?.[1],
    );
    const res = await fetch(page);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('stately.ai/inspect');
  });
});

describe('ray-mcp command line', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [MAIN, ...args], { env: baseEnv(), encoding: 'utf8' });

  it('prints help and version', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    for (const flag of [
      '--ray-bin',
      '--read-only',
      '--no-destructive',
      '--inspect',
      '--data-dir',
      '--on-exit',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    const version = cli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('refuses a bad setting with a clear message and exit code 2', () => {
    const res = cli(['--request-timeout', 'soon']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('--request-timeout: request timeout must be a number of seconds');
    expect(res.stdout).toBe('');
  });
});
