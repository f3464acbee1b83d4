/**
 * Start-up: from spawn to tools/list answered, ray-mcp against a one-tool server on the same SDK
 * (bench/one-tool-server.ts), measured alternately in one run; medians and their ratio, and the
 * median of the ratios of each pair (a start of each, one after the other). Then the
 * idle RSS of ray-mcp a second after it answered (the median of five starts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/paths.js';

const RUNS = Number(process.env.RAY_MCP_BENCH_RUNS ?? 15);
const RSS_RUNS = 5;
const dist = join(projectRoot, 'dist');

interface Sample {
  ms: number;
  rssMb?: number;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } },
};

/** Spawns `args`, sends initialize and tools/list, resolves when the list is answered. */
function once(args: string[], env: NodeJS.ProcessEnv, measureRss: boolean): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no tools/list answer from ${args.join(' ')}`));
    }, 60_000);
    child.on('error', reject);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { id?: number };
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (msg.id === 1) {
          child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
          child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`);
        } else if (msg.id === 2) {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const finish = (rssMb?: number) => {
            clearTimeout(timer);
            child.once('exit', () => resolve({ ms, rssMb }));
            child.stdin.end();
            setTimeout(() => child.kill('SIGTERM'), 5000).unref();
          };
          if (!measureRss) finish();
          else
            setTimeout(() => {
              const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
              const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
              finish(Math.round(kb / 102.4) / 10);
            }, 1000);
        }
      }
    });
    child.stdin.write(`${JSON.stringify(initialize)}\n`);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function run(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ray-mcp-bench-startup-'));
  const env = { ...process.env, RAY_MCP_DATA_DIR: dataDir, RAY_MCP_LOG_LEVEL: 'warn' };
  const rayMcp = [join(dist, 'ray-mcp.js')];
  const baseline = [join(dist, 'bench', 'one-tool-server.js')];
  try {
    // One warm-up each: the file cache, not start-up, is what a first spawn measures.
    await once(rayMcp, env, false);
    await once(baseline, env, false);
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push((await once(rayMcp, env, false)).ms);
      base.push((await once(baseline, env, false)).ms);
    }
    // RSS moves by ±2 MB with where the garbage collector is a second after tools/list: the median
    // of a few starts, alternating as for the times.
    const rssOurs: number[] = [];
    const rssBase: number[] = [];
    for (let i = 0; i < RSS_RUNS; i++) {
      rssOurs.push((await once(rayMcp, env, true)).rssMb!);
      rssBase.push((await once(baseline, env, true)).rssMb!);
    }
    const rss = median(rssOurs);
    const baseRss = median(rssBase);
    const m = median(ours);
    const b = median(base);
    // Each ray-mcp start against the baseline start right after it: robust to the machine's load
    // drifting during the run, which moves both sides of a pair alike.
    const paired = median(ours.map((o, i) => o / base[i]!));
    return {
      bench: 'startup',
      runs: RUNS,
      ray_mcp_median_ms: Math.round(m),
      one_tool_median_ms: Math.round(b),
      ratio: Math.round((m / b) * 100) / 100,
      paired_ratio: Math.round(paired * 100) / 100,
      ray_mcp_idle_rss_mb: rss,
      one_tool_idle_rss_mb: baseRss,
      targets: { ratio: 1.2, idle_rss_mb: 80 },
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
