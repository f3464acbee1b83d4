/**
 * 500 watched jobs on one cluster: dashboard requests per watcher tick (target 1 per cluster) and
 * the latency from a job's state change to the client's resources/updated notification (target
 * p95 <= 1 s at the 0.5 s tick). The cluster is a small local stand-in for a Ray dashboard that
 * serves 500 jobs (a real Ray with 500 live jobs does not fit this 2-core machine); ray-mcp talks
 * to it over HTTP exactly as to Ray, as an external cluster.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openClient } from './client.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 500);
const FLIPS = 100;

interface FakeJob {
  submission_id: string;
  job_id: string;
  type: string;
  status: string;
  entrypoint: string;
  start_time: number;
  end_time: number | null;
}

export async function run(): Promise<Record<string, unknown>> {
  const now = Date.now();
  const jobs: FakeJob[] = Array.from({ length: JOBS }, (_, i) => ({
    submission_id: `w-${i}`,
    job_id: `${i}`,
    type: 'SUBMISSION',
    status: 'RUNNING',
    entrypoint: `python train.py --shard ${i}`,
    start_time: now,
    end_time: null,
  }));
  const listCalls: number[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url === '/api/jobs/') {
      listCalls.push(Date.now());
      return json(jobs);
    }
    const one = /^\/api\/jobs\/([^/?]+)$/.exec(url);
    if (one) return json(jobs.find((j) => j.submission_id === one[1]) ?? {});
    if (url.startsWith('/api/version')) {
      return json({
        version: '4',
        ray_version: '2.60.0',
        ray_commit: 'bench',
        session_name: 'session_bench',
      });
    }
    if (url.startsWith('/api/gcs_healthz')) return res.end('success');
    if (url.startsWith('/api/v0/nodes')) {
      return json({
        result: true,
        msg: '',
        data: {
          result: {
            total: 1,
            result: [
              {
                node_id: 'n1',
                node_ip: '127.0.0.1',
                is_head_node: true,
                state: 'ALIVE',
                resources_total: { CPU: 1 },
                labels: {},
              },
            ],
          },
        },
      });
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = await openClient();
  try {
    const res = await c.client.callTool({
      name: 'init_ray_cluster',
      arguments: { cluster_name: 'fake', address: url },
    });
    if (res.isError) throw new Error(JSON.stringify(res.content));
    const arrivals = new Map<string, number>();
    c.client.setNotificationHandler('notifications/resources/updated', (n) => {
      if (!arrivals.has(n.params.uri)) arrivals.set(n.params.uri, Date.now());
    });
    for (const j of jobs)
      await c.client.subscribeResource({ uri: `ray://clusters/fake/jobs/${j.submission_id}` });

    // Steady state: every watched job runs; count list requests over a window.
    await new Promise((r) => setTimeout(r, 1000));
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const windowCalls = listCalls.filter((t) => t >= from).length;
    const ticks = 5000 / 500;

    // Flip some jobs to SUCCEEDED and time their notifications.
    const flipped = jobs.slice(0, FLIPS);
    const flipAt = Date.now();
    for (const j of flipped) {
      j.status = 'SUCCEEDED';
      j.end_time = flipAt;
    }
    const deadline = Date.now() + 10_000;
    while (
      flipped.some((j) => !arrivals.has(`ray://clusters/fake/jobs/${j.submission_id}`)) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const latencies = flipped
      .map((j) => arrivals.get(`ray://clusters/fake/jobs/${j.submission_id}`))
      .map((t) => (t === undefined ? Number.POSITIVE_INFINITY : t - flipAt))
      .sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    await c.client.callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: 'fake' } });
    return {
      bench: 'watched-jobs',
      watched_jobs: JOBS,
      list_requests_in_window: windowCalls,
      ticks_in_window: ticks,
      requests_per_tick: Number((windowCalls / ticks).toFixed(2)),
      target_requests_per_tick: 1,
      notifications_received: latencies.filter(Number.isFinite).length,
      latency_ms_p50: p(0.5),
      latency_ms_p95: p(0.95),
      latency_ms_max: latencies.at(-1),
      target_p95_ms: 1000,
    };
  } finally {
    await c.close();
    server.close();
  }
}
