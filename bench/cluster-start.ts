/**
 * init_ray_cluster until usable, through a real MCP client, against the baseline measured in the
 * same run: a raw `ray start --head --block` until its dashboard answers /api/gcs_healthz.
 * Runs alternate so machine load hits both alike; the result is the ratio of medians.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { execa } from 'execa';
import { pidAlive, waitUntilGone } from '../src/actors/os-processes.js';
import { canBind } from '../src/actors/ports.actor.js';
import { projectRoot } from '../src/paths.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const rayBin = join(projectRoot, '.venv', 'bin', 'ray');

async function freePorts(n: number, from: number): Promise<number[]> {
  const out: number[] = [];
  for (let p = from; out.length < n; p++) if (await canBind(p)) out.push(p);
  return out;
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/api/gcs_healthz`)).status === 200;
  } catch {
    return false;
  }
}

async function headAlive(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v0/nodes`);
    return res.status === 200 && (await res.text()).includes('"ALIVE"');
  } catch {
    return false;
  }
}

/** Raw `ray start --head --block`: ms until the dashboard is healthy, and until the head node is ALIVE. */
async function baselineOnce(): Promise<[number, number]> {
  const temp = mkdtempSync(join(tmpdir(), 'rb-'));
  const [gcs, dash, client, a, b, c, d, e, f, w] = await freePorts(10, 40000);
  const started = performance.now();
  const child = execa(
    rayBin,
    [
      'start',
      '--head',
      '--block',
      '--node-ip-address=127.0.0.1',
      `--temp-dir=${temp}`,
      `--port=${gcs}`,
      '--dashboard-host=127.0.0.1',
      `--dashboard-port=${dash}`,
      `--ray-client-server-port=${client}`,
      `--dashboard-agent-listen-port=${a}`,
      `--dashboard-agent-grpc-port=${b}`,
      `--node-manager-port=${c}`,
      `--object-manager-port=${d}`,
      `--runtime-env-agent-port=${e}`,
      `--metrics-export-port=${f}`,
      `--min-worker-port=${w}`,
      `--max-worker-port=${w! + 99}`,
      '--num-cpus=1',
      '--disable-usage-stats',
    ],
    {
      env: { RAY_AUTH_MODE: 'disabled', RAY_USAGE_STATS_ENABLED: '0' },
      reject: false,
      stdio: 'ignore',
      detached: true,
    },
  );
  const url = `http://127.0.0.1:${dash}`;
  while (!(await healthy(url))) await new Promise((r) => setTimeout(r, 50));
  const toHealthy = performance.now() - started;
  while (!(await headAlive(url))) await new Promise((r) => setTimeout(r, 50));
  const toAlive = performance.now() - started;
  child.kill('SIGTERM');
  await child;
  if (child.pid && pidAlive(child.pid)) await waitUntilGone([child.pid], 20_000);
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {}
  rmSync(temp, { recursive: true, force: true });
  return [toHealthy, toAlive];
}

async function rayMcpOnce(client: Client, n: number): Promise<number> {
  const started = performance.now();
  const res = await client.callTool(
    { name: 'init_ray_cluster', arguments: { cluster_name: `bench-${n}`, num_cpus: 1 } },
    { timeout: 300_000 },
  );
  const elapsed = performance.now() - started;
  if (res.isError) throw new Error(JSON.stringify(res.content));
  await client.callTool(
    { name: 'stop_ray_cluster', arguments: { cluster_id: `bench-${n}` } },
    { timeout: 120_000 },
  );
  return elapsed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<Record<string, unknown>> {
  const data = mkdtempSync(join(tmpdir(), 'rbd-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(projectRoot, 'dist', 'ray-mcp.js'), '--log-level', 'warn', '--data-dir', data],
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  const base: number[] = [];
  const alive: number[] = [];
  const ours: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const [h, a] = await baselineOnce();
      base.push(h);
      alive.push(a);
      ours.push(await rayMcpOnce(client, i));
    }
  } finally {
    await client.close();
    rmSync(data, { recursive: true, force: true });
  }
  const result = {
    bench: 'cluster-start',
    runs: RUNS,
    baseline_ms: base.map(Math.round),
    ray_mcp_ms: ours.map(Math.round),
    baseline_median_ms: Math.round(median(base)),
    ray_mcp_median_ms: Math.round(median(ours)),
    ratio: Number((median(ours) / median(base)).toFixed(3)),
    target_ratio: 1.1,
    // Same readiness as init_ray_cluster waits for (the head node ALIVE), raw.
    baseline_head_alive_ms: alive.map(Math.round),
    baseline_head_alive_median_ms: Math.round(median(alive)),
    ratio_to_head_alive: Number((median(ours) / median(alive)).toFixed(3)),
  };
  return result;
}
