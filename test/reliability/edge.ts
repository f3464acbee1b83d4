/**
 * What the MCP-edge suites share: the built server in a sandbox where nothing real can start (a
 * scratch data dir, a Ray CLI that does not exist or hangs, an empty kubeconfig, no cloud
 * credentials), raw stdio pipes to it, and its RSS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, MAIN, scratchDir } from '../helpers/mcp.js';

/** The environment of a sandboxed server: no cloud or Kubernetes credentials reach it. */
export function sandboxEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = baseEnv();
  for (const k of Object.keys(env)) {
    if (/^(AWS_|GOOGLE_|GCLOUD|CLOUDSDK_|GCE_|KUBE|RAY_AUTH|RAY_ADDRESS)/.test(k)) delete env[k];
  }
  const home = scratchDir('home');
  const kubeconfig = join(home, 'kubeconfig-empty');
  writeFileSync(kubeconfig, '');
  return {
    ...env,
    HOME: home,
    KUBECONFIG: kubeconfig,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
    AWS_CONFIG_FILE: join(home, 'none'),
    CLOUDSDK_CONFIG: join(home, 'none'),
    GCE_METADATA_HOST: '127.0.0.1:9',
    RAY_MCP_CLOUD_PROBE_TIMEOUT: '0.1',
    ...extra,
  };
}

/** A stand-in Ray CLI that sleeps, so a check_environment call keeps a child process running. */
export function hangingRay(): string {
  const file = join(scratchDir('fake-ray'), 'ray');
  writeFileSync(file, `#!/bin/sh\npython3 -c 'import time; time.sleep(60)' "$0"\necho done\n`);
  chmodSync(file, 0o755);
  return file;
}

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export interface Answer {
  id?: string | number | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** The built server on raw pipes: write any bytes, read JSON-RPC answers by id. */
export class RawServer {
  readonly child: ChildProcess;
  readonly answers: Answer[] = [];
  stderr = '';
  /** Lines on stdout that were not JSON (must stay 0). */
  junk = 0;
  readonly exited: Promise<number | null>;
  private out = '';
  private waiters: (() => void)[] = [];
  private nextId = 1000;

  constructor(args: string[] = [], env: Record<string, string> = sandboxEnv()) {
    this.child = spawn(process.execPath, [MAIN, '--ray-bin', '/nonexistent/ray', ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin!.on('error', () => {});
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      const lines = this.out.split('\n');
      this.out = lines.pop()!;
      for (const l of lines) {
        try {
          this.answers.push(JSON.parse(l));
        } catch {
          this.junk++;
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  write(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }

  send(message: object): void {
    this.write(`${JSON.stringify(message)}\n`);
  }

  /** Waits until `pred` holds over the answers so far. */
  async until<T>(what: string, pred: (answers: Answer[]) => T | false | undefined, ms = 30_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred(this.answers);
      if (v) return v;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; stderr:\n${this.stderr.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  answerTo(id: string | number | null, ms?: number): Promise<Answer> {
    return this.until(`an answer to ${id}`, (a) => a.find((x) => x.id === id), ms);
  }

  async request(method: string, params?: object, ms?: number): Promise<Answer> {
    const id = this.nextId++;
    this.send({ jsonrpc: '2.0', id, method, ...(params && { params }) });
    return this.answerTo(id, ms);
  }

  async ping(): Promise<boolean> {
    const a = await this.request('ping', undefined, 20_000);
    return a.result !== undefined;
  }

  async initialize(): Promise<Answer> {
    const a = await this.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return a;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
