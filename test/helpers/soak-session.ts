/**
 * A long MCP session, compressed: the built server over stdio with a real MCP client, against a
 * stand-in Ray dashboard over HTTP. Each cycle submits jobs to a long-lived cluster (and lets the
 * dashboard forget them afterwards), subscribes to job resources and unsubscribes, connects a
 * short-lived cluster and stops it, and tries a Kubernetes context that does not exist. After each
 * cycle it samples the server's RSS and live actor count (the SIGUSR2 stats line on stderr, a
 * debug figure outside the tools). Used by test/reliability/soak.test.ts and bench/soak.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { projectRoot } from '../../src/paths.js';
import { type FakeDashboard, startFakeDashboard } from './fake-dashboard.js';

export interface SoakSample {
  cycle: number;
  seconds: number;
  jobs: number;
  actors: number;
  rssMb: number;
}

export interface SoakServer {
  client: Client;
  pid: number;
  dashboard: FakeDashboard;
  /** The server's stats line (RaySystem.stats), asked for with SIGUSR2. */
  stats(): Promise<
    { actors: number; rssMb: number; heapMb: number; byKind: Record<string, number> } & Record<
      string,
      unknown
    >
  >;
  /** Calls a tool; throws with its text when it returns an error. */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

export async function openSoakServer(env: Record<string, string> = {}): Promise<SoakServer> {
  const data = mkdtempSync(join(tmpdir(), 'rsd-'));
  const tempRoot = mkdtempSync(join(tmpdir(), 'rst-'));
  const dashboard = await startFakeDashboard();
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('RAY_MCP_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS')
      childEnv[k] = v;
  // No kubeconfig of the machine's: the missing contexts are missing.
  childEnv.KUBECONFIG = join(data, 'no-kubeconfig');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      // The SIGUSR2 stats line collects garbage first: RSS is read after a full GC, not at a random
      // point of the collector's sawtooth (as the fuzz does).
      '--expose-gc',
      join(projectRoot, 'dist', 'ray-mcp.js'),
      '--log-level',
      'info',
      '--data-dir',
      data,
      '--temp-root',
      tempRoot,
    ],
    env: { ...childEnv, ...env },
    stderr: 'pipe',
  });
  let pending = '';
  const waiters: ((line: Record<string, unknown>) => void)[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let i = pending.indexOf('\n');
    while (i >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      i = pending.indexOf('\n');
      if (!line.includes('"msg":"stats"')) continue;
      try {
        const parsed = JSON.parse(line) as { stats: Record<string, unknown> };
        waiters.shift()?.(parsed.stats);
      } catch {}
    }
  });
  const client = new Client({ name: 'ray-mcp-soak', version: '1' });
  await client.connect(transport);
  const pid = transport.pid!;
  return {
    client,
    pid,
    dashboard,
    stats: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no stats line within 10 s')), 10_000);
        waiters.push((s) => {
          clearTimeout(timer);
          resolve(s as never);
        });
        process.kill(pid, 'SIGUSR2');
      }),
    async ok(name, args = {}) {
      const res = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
      if (res.isError) {
        const text = (res.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
        throw new Error(`${name} failed: ${text}`);
      }
      return res.structuredContent as never;
    },
    async close() {
      await client.close();
      await dashboard.close();
      rmSync(data, { recursive: true, force: true });
      rmSync(tempRoot, { recursive: true, force: true });
    },
  };
}

export interface SoakOptions {
  cycles: number;
  jobsPerCycle: number;
  /** Called after each cycle with its sample. */
  onSample?: (s: SoakSample) => void;
}

/** Runs the cycles; returns one sample per cycle (after the cycle, once the server is quiet). */
export async function runSoak(server: SoakServer, opts: SoakOptions): Promise<SoakSample[]> {
  const { client, dashboard } = server;
  const started = Date.now();
  const { cluster_id: main } = await server.ok<{ cluster_id: string }>('init_ray_cluster', {
    address: dashboard.url,
    cluster_name: 'soak-main',
  });
  const samples: SoakSample[] = [];
  let jobs = 0;
  const long = 'k'.repeat(4000);
  for (let cycle = 1; cycle <= opts.cycles; cycle++) {
    const listUri = `ray://clusters/${main}/jobs`;
    await client.subscribeResource({ uri: listUri });
    const ids = await Promise.all(
      Array.from({ length: opts.jobsPerCycle }, (_, i) =>
        server
          .ok<{ submission_id: string }>('submit_ray_job', {
            cluster_id: main,
            entrypoint: `python step.py --cycle ${cycle} --i ${i}`,
          })
          .then((r) => r.submission_id),
      ),
    );
    jobs += ids.length;
    const jobUri = `ray://clusters/${main}/jobs/${ids[0]}`;
    await client.subscribeResource({ uri: jobUri });
    await server.ok('wait_for_ray_job', { cluster_id: main, submission_id: ids.at(-1), timeout_seconds: 30 });
    await server.ok('inspect_ray_job', { cluster_id: main, submission_id: ids[0] });
    await server.ok('list_ray_jobs', { cluster_id: main });
    await client.unsubscribeResource({ uri: jobUri });
    await client.unsubscribeResource({ uri: listUri });

    // A cluster that comes and goes, with a job of its own.
    const { cluster_id: brief } = await server.ok<{ cluster_id: string }>('init_ray_cluster', {
      address: dashboard.url,
    });
    const { submission_id } = await server.ok<{ submission_id: string }>('submit_ray_job', {
      cluster_id: brief,
      entrypoint: 'python brief.py',
    });
    jobs++;
    await server.ok('wait_for_ray_job', { cluster_id: brief, submission_id, timeout_seconds: 30 });
    await server.ok('stop_ray_cluster', { cluster_id: brief });

    // A connection that fails (a context that is not there), with a long name.
    const refused = await client.callTool({
      name: 'connect_kubernetes_cluster',
      arguments: { context: `gone-${cycle}-${long}` },
    });
    if (!refused.isError) throw new Error('a missing context connected');

    // The dashboard forgets the ended jobs (ray job delete); the next list drops them.
    dashboard.deleteEnded();
    await server.ok('list_ray_jobs', { cluster_id: main });
    const s = await server.stats();
    const sample = {
      cycle,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      jobs,
      actors: s.actors,
      rssMb: s.rssMb,
    };
    samples.push(sample);
    opts.onSample?.(sample);
  }
  return samples;
}

/** Asks for stats until the actor count is at most `target` (stragglers finishing), or `ms` pass. */
export async function settledStats(server: SoakServer, target: number, ms = 5000) {
  const until = Date.now() + ms;
  for (;;) {
    const s = await server.stats();
    if (s.actors <= target || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}
