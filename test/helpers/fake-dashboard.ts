/**
 * A stand-in Ray dashboard over real HTTP on 127.0.0.1, for sessions too long for real Ray (the soak):
 * the endpoints ray-mcp uses for an external cluster (version, health, nodes, jobs, logs). A job runs
 * for `runMs`, then succeeds; `deleteEnded()` forgets ended jobs as `ray job delete` would.
 */
import { createServer, type Server } from 'node:http';

interface Job {
  submission_id: string;
  job_id: string;
  type: 'SUBMISSION';
  status: string;
  entrypoint: string;
  message: string | null;
  start_time: number;
  end_time: number | null;
  metadata: Record<string, string> | null;
  runtime_env: Record<string, unknown> | null;
  driver_info: { id: string; node_ip_address: string; pid: string };
  driver_node_id: string;
  driver_exit_code: number | null;
}

export interface FakeDashboard {
  url: string;
  jobs: Map<string, Job>;
  /** Requests served. */
  served(): number;
  /** Forgets every ended job; returns how many. */
  deleteEnded(): number;
  close(): Promise<void>;
}

const NODE = {
  node_id: 'node-head',
  node_ip: '127.0.0.1',
  is_head_node: true,
  state: 'ALIVE',
  node_name: '127.0.0.1',
  resources_total: { CPU: 4, memory: 8e9 },
  labels: {},
};
const state = <T>(result: T[]) => ({
  result: true,
  msg: '',
  data: { result: { total: result.length, result } },
});

export async function startFakeDashboard(opts: { runMs?: number } = {}): Promise<FakeDashboard> {
  const runMs = opts.runMs ?? 50;
  const jobs = new Map<string, Job>();
  let n = 0;
  let served = 0;
  const tick = (job: Job) => {
    if (job.status === 'RUNNING' && Date.now() - job.start_time >= runMs) {
      job.status = 'SUCCEEDED';
      job.end_time = Date.now();
      job.driver_exit_code = 0;
      job.message = 'Job finished successfully.';
    }
    return job;
  };
  const server: Server = createServer((req, res) => {
    served++;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const send = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      if (path === '/api/version')
        return send(200, { version: '4', ray_version: '2.99.0', ray_commit: 'fake', session_name: 'soak' });
      if (path === '/api/authentication_mode') return send(200, { authentication_mode: 'disabled' });
      if (path === '/api/gcs_healthz') return send(200, 'success');
      if (path === '/api/v0/nodes') return send(200, state([NODE]));
      if (path === '/api/v0/tasks' || path === '/api/v0/actors') return send(200, state([]));
      if (path === '/api/cluster_status') return send(200, { result: true, data: {} });
      if (path === '/api/v0/logs/file') return send(200, 'hello from a fake driver\n');
      if (path === '/api/jobs/' && req.method === 'GET') return send(200, [...jobs.values()].map(tick));
      if (path === '/api/jobs/' && req.method === 'POST') {
        const submit = JSON.parse(body || '{}') as {
          entrypoint?: string;
          submission_id?: string;
          metadata?: Record<string, string>;
        };
        const id = submit.submission_id ?? `raysubmit_${++n}`;
        if (jobs.has(id)) return send(500, `Job with submission_id ${id} already exists.`);
        jobs.set(id, {
          submission_id: id,
          job_id: `${n.toString(16).padStart(8, '0')}`,
          type: 'SUBMISSION',
          status: 'RUNNING',
          entrypoint: submit.entrypoint ?? '',
          message: null,
          start_time: Date.now(),
          end_time: null,
          metadata: submit.metadata ?? null,
          runtime_env: null,
          driver_info: { id: `driver-${id}`, node_ip_address: '127.0.0.1', pid: '4242' },
          driver_node_id: 'node-head',
          driver_exit_code: null,
        });
        return send(200, { submission_id: id, job_id: id });
      }
      const m = /^\/api\/jobs\/([^/]+)(\/stop)?$/.exec(path);
      if (m) {
        const job = jobs.get(decodeURIComponent(m[1]!));
        if (!job) return send(404, `Job ${m[1]} does not exist`);
        if (m[2]) {
          job.status = 'STOPPED';
          job.end_time = Date.now();
          return send(200, { stopped: true });
        }
        if (req.method === 'DELETE') {
          jobs.delete(job.submission_id);
          return send(200, { deleted: true });
        }
        return send(200, tick(job));
      }
      send(404, { error: `not faked: ${path}` });
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    jobs,
    served: () => served,
    deleteEnded() {
      let k = 0;
      for (const [id, job] of jobs) {
        if (tick(job).end_time !== null) {
          jobs.delete(id);
          k++;
        }
      }
      return k;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
