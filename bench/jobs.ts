/**
 * Job benchmarks, each against a baseline or bound measured in the same run:
 *  - first-submit: the first submit_ray_job right after init_ray_cluster returned vs the median of
 *    the 19 that follow (init warms the head's job agent, so the first should not stand out);
 *  - list-jobs: list_ray_jobs through MCP vs the raw GET /api/jobs/ it wraps (target <= 1.2x);
 *  - log-tail: retrieve_logs of 200 lines from a ~1 GB driver log vs `tail -n 200` on the same
 *    file (target <= 300 ms; server memory growth < 50 MB).
 * Both on a real local Ray cluster.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { request } from 'undici';
import { type BenchClient, median, openClient } from './client.js';

const LIST_RUNS = Number(process.env.BENCH_RUNS ?? 30);
const LOG_BYTES = Number(process.env.BENCH_LOG_BYTES ?? 1024 ** 3);

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function call(c: BenchClient, name: string, args: Record<string, unknown>) {
  const res = await c.client.callTool({ name, arguments: args }, { timeout: 300_000 });
  if (res.isError) throw new Error(`${name}: ${JSON.stringify(res.content)}`);
  return res.structuredContent as Record<string, unknown>;
}

export async function run(): Promise<Record<string, unknown>> {
  const c = await openClient();
  try {
    const cluster = await call(c, 'init_ray_cluster', { cluster_name: 'bench-jobs', num_cpus: 2 });
    const url = cluster.dashboard_url as string;
    // first-submit: the first job right after init_ray_cluster returned vs the later ones.
    const submits: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await call(c, 'submit_ray_job', { entrypoint: `echo job ${i}`, submission_id: `bench-${i}` });
      submits.push(performance.now() - t);
    }
    await call(c, 'wait_for_ray_job', { submission_id: 'bench-19', timeout_seconds: 120 });

    // list-jobs, alternating so load hits both alike.
    const raw: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < LIST_RUNS; i++) {
      let t = performance.now();
      const res = await request(`${url}/api/jobs/`);
      await res.body.json();
      raw.push(performance.now() - t);
      t = performance.now();
      await call(c, 'list_ray_jobs', { limit: 20 });
      ours.push(performance.now() - t);
    }

    // log-tail: a finished job's driver log grown to ~1 GB.
    await call(c, 'submit_ray_job', { entrypoint: 'echo start', submission_id: 'bench-big' });
    await call(c, 'wait_for_ray_job', { submission_id: 'bench-big', timeout_seconds: 120 });
    const logPath = findDriverLog(c.tempRoot, 'bench-big');
    await grow(logPath, LOG_BYTES);
    const rssBefore = rssMb(c.pid);
    const tails: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const page = await call(c, 'retrieve_logs', {
        submission_id: 'bench-big',
        lines: 200,
        max_bytes: 256 * 1024,
      });
      tails.push(performance.now() - t);
      if (page.lines !== 200) throw new Error(`expected 200 lines, got ${page.lines}`);
    }
    const rssAfter = rssMb(c.pid);
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      execFileSync('tail', ['-n', '200', logPath], { maxBuffer: 64 * 1024 * 1024 });
      baseline.push(performance.now() - t);
    }
    await call(c, 'stop_ray_cluster', { cluster_id: 'bench-jobs' });
    const later = median(submits.slice(1));
    return {
      bench: 'jobs',
      first_submit: {
        first_ms: round(submits[0]!),
        later_median_ms: round(later),
        ratio: Number((submits[0]! / later).toFixed(2)),
      },
      list_jobs: {
        runs: LIST_RUNS,
        raw_median_ms: round(median(raw)),
        ray_mcp_median_ms: round(median(ours)),
        ratio: Number((median(ours) / median(raw)).toFixed(2)),
        target_ratio: 1.2,
      },
      log_tail: {
        log_bytes: LOG_BYTES,
        retrieve_logs_ms: tails.map(round),
        retrieve_logs_median_ms: round(median(tails)),
        target_ms: 300,
        tail_n_200_median_ms: round(median(baseline)),
        server_rss_mb_before: round(rssBefore),
        server_rss_mb_after: round(rssAfter),
        rss_growth_mb: round(rssAfter - rssBefore),
        target_growth_mb: 50,
      },
    };
  } finally {
    await c.close();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

function findDriverLog(tempRoot: string, sid: string): string {
  const out = execFileSync('find', [tempRoot, '-name', `job-driver-${sid}.log`], { encoding: 'utf8' }).trim();
  if (!out) throw new Error('driver log not found');
  return out.split('\n')[0]!;
}

async function grow(path: string, bytes: number): Promise<void> {
  const line = Buffer.from(`${'x'.repeat(100)} filler line of a long training run\n`);
  const block = Buffer.concat(Array.from({ length: 8192 }, () => line));
  const out = createWriteStream(path, { flags: 'a' });
  for (let written = 0; written < bytes; written += block.length) {
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.write('the last line\n');
  await new Promise<void>((r) => out.end(() => r()));
}
