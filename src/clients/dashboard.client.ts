/**
 * The only code that talks HTTP to a Ray dashboard. undici's `request`, never the global fetch:
 * fetch adds `sec-fetch-mode`, and Ray 2.52+ refuses such POSTs as browser traffic. Idempotent
 * GETs retry with backoff; errors are typed so tools can say what went wrong.
 */
import type { Dispatcher } from 'undici';
import { RayMcpError } from '../domain/errors.js';

export interface DashboardOptions {
  /** e.g. http://127.0.0.1:8265 */
  url: string;
  token?: string;
  timeoutMs?: number;
}

export class DashboardHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly path: string,
  ) {
    super(`Ray dashboard answered ${status} for ${path}: ${body.slice(0, 300)}`);
    this.name = 'DashboardHttpError';
  }
}

export interface RayVersionInfo {
  version: string;
  ray_version: string;
  ray_commit: string;
  session_name: string;
}

export interface RayNodeState {
  node_id: string;
  node_ip: string;
  node_name?: string;
  is_head_node: boolean;
  state: 'ALIVE' | 'DEAD' | string;
  state_message?: string | null;
  resources_total: Record<string, number>;
  labels: Record<string, string>;
  start_time_ms?: number;
  end_time_ms?: number;
}

export interface RayJobDetails {
  type: string;
  job_id: string | null;
  submission_id: string | null;
  status: string;
  entrypoint: string;
  message?: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  runtime_env?: Record<string, unknown> | null;
  driver_info?: { id: string; node_ip_address: string; pid: string } | null;
  driver_exit_code?: number | null;
  driver_node_id?: string | null;
}

interface StateApiReply<T> {
  result: boolean;
  msg: string;
  data: { result: { total: number; result: T[] } };
}

// undici loads on first use (start-up stays fast). Loopback dashboards answer fast; one small pool
// serves all of them.
let http: Promise<{ request: typeof import('undici').request; agent: Dispatcher }> | undefined;
function loadHttp() {
  http ??= import('undici').then(({ Agent, request }) => ({
    request,
    agent: new Agent({ keepAliveTimeout: 10_000, connections: 16 }),
  }));
  return http;
}

const authModes = new Map<string, Promise<string>>();

/**
 * How to reach dashboards behind a Kubernetes API server's service proxy: that server's TLS agent
 * and its auth headers, by URL prefix. The Kubernetes connection registers its server when it
 * connects; `Authorization` then belongs to Kubernetes, and the Ray token travels in
 * `X-Ray-Authorization` only.
 */
export type DashboardRoute = () => Promise<{ dispatcher: Dispatcher; headers: Record<string, string> }>;
const routes = new Map<string, DashboardRoute>();

export function registerDashboardRoute(prefix: string, route: DashboardRoute): () => void {
  routes.set(prefix, route);
  return () => {
    if (routes.get(prefix) === route) routes.delete(prefix);
  };
}

function routeFor(url: string): DashboardRoute | undefined {
  let best: [string, DashboardRoute] | undefined;
  for (const entry of routes)
    if (url.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  return best?.[1];
}

export class DashboardClient {
  readonly url: string;
  private readonly token?: string;
  private readonly timeoutMs: number;

  constructor(opts: DashboardOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /**
   * The token goes only to a dashboard that asks for one (`/api/authentication_mode` says
   * "token"): an external dashboard without auth never sees it. Both headers, so it also passes a
   * Kubernetes API server proxy that keeps `Authorization` for itself. Asked once per dashboard.
   */
  private async authHeaders(proxied: boolean): Promise<Record<string, string>> {
    if (!this.token) return {};
    let mode = authModes.get(this.url);
    if (!mode) {
      mode = this.fetchAuthMode();
      authModes.set(this.url, mode);
    }
    if ((await mode) !== 'token') return {};
    return proxied
      ? { 'x-ray-authorization': `Bearer ${this.token}` }
      : { authorization: `Bearer ${this.token}`, 'x-ray-authorization': `Bearer ${this.token}` };
  }

  /** The dispatcher and headers for this dashboard: direct, or through a Kubernetes API proxy. */
  private async transport(
    withAuth = true,
  ): Promise<{ dispatcher: Dispatcher; headers: Record<string, string> }> {
    const route = routeFor(this.url);
    const base = route ? await route() : { dispatcher: (await loadHttp()).agent, headers: {} };
    const headers: Record<string, string> = { 'user-agent': 'ray-mcp', ...base.headers };
    if (withAuth) Object.assign(headers, await this.authHeaders(route !== undefined));
    return { dispatcher: base.dispatcher, headers };
  }

  private async fetchAuthMode(): Promise<string> {
    try {
      const { request } = await loadHttp();
      const { dispatcher, headers } = await this.transport(false);
      const res = await request(`${this.url}/api/authentication_mode`, {
        dispatcher,
        headers,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await res.body.text();
      // 404: Ray before 2.52, no token auth.
      if (res.statusCode !== 200) return 'disabled';
      return (JSON.parse(text) as { authentication_mode?: string }).authentication_mode ?? 'disabled';
    } catch {
      authModes.delete(this.url);
      return 'unknown';
    }
  }

  private async call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    opts: { body?: unknown; retries?: number; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const retries = opts.retries ?? (method === 'GET' ? 2 : 0);
    let attempt = 0;
    for (;;) {
      try {
        const { dispatcher, headers } = await this.transport();
        let body: string | undefined;
        if (opts.body !== undefined) {
          headers['content-type'] = 'application/json';
          body = JSON.stringify(opts.body);
        }
        const timeout = opts.timeoutMs ?? this.timeoutMs;
        const { request } = await loadHttp();
        const res = await request(`${this.url}${path}`, {
          method,
          headers,
          body,
          dispatcher,
          signal: opts.signal,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        const text = await res.body.text();
        if (res.statusCode >= 400) throw new DashboardHttpError(res.statusCode, text, path);
        return (text ? JSON.parse(text) : undefined) as T;
      } catch (err) {
        const retriable = !(err instanceof DashboardHttpError) || err.status >= 500 || err.status === 429;
        if (attempt >= retries || !retriable || opts.signal?.aborted) throw err;
        attempt++;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  /** GET /api/gcs_healthz: true when the GCS answers. Never throws. */
  async gcsHealthy(signal?: AbortSignal): Promise<boolean> {
    try {
      const { request } = await loadHttp();
      const { dispatcher, headers } = await this.transport();
      const res = await request(`${this.url}/api/gcs_healthz`, {
        dispatcher,
        headers,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  version(signal?: AbortSignal): Promise<RayVersionInfo> {
    return this.call('GET', '/api/version', { signal });
  }

  listJobs(signal?: AbortSignal, retries?: number): Promise<RayJobDetails[]> {
    return this.call('GET', '/api/jobs/', { signal, retries });
  }

  async listNodes(signal?: AbortSignal): Promise<RayNodeState[]> {
    const reply = await this.call<StateApiReply<RayNodeState>>(
      'GET',
      '/api/v0/nodes?limit=10000&detail=true',
      {
        signal,
      },
    );
    return reply.data.result.result;
  }

  /** Node ids that run at least one task or actor right now. */
  async busyNodeIds(signal?: AbortSignal): Promise<Set<string>> {
    const [tasks, actors] = await Promise.all([
      this.call<StateApiReply<{ node_id: string }>>(
        'GET',
        '/api/v0/tasks?limit=10000&filter_keys=state&filter_predicates=%3D&filter_values=RUNNING',
        { signal },
      ),
      this.call<StateApiReply<{ node_id: string }>>(
        'GET',
        '/api/v0/actors?limit=10000&filter_keys=state&filter_predicates=%3D&filter_values=ALIVE',
        { signal },
      ),
    ]);
    return new Set([...tasks.data.result.result, ...actors.data.result.result].map((r) => r.node_id));
  }

  getJob(id: string, signal?: AbortSignal): Promise<RayJobDetails> {
    return this.call('GET', `/api/jobs/${encodeURIComponent(id)}`, { signal });
  }

  /** POST /api/jobs/. Retries only Ray's "No available agent" (the head's agent still starting). */
  async submitJob(body: Record<string, unknown>, signal?: AbortSignal): Promise<{ submission_id: string }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return await this.call('POST', '/api/jobs/', { body, signal, timeoutMs: 30_000 });
      } catch (err) {
        const agentMissing = err instanceof DashboardHttpError && /No available agent/i.test(err.body);
        if (!agentMissing || Date.now() > deadline || signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  stopJob(id: string, signal?: AbortSignal): Promise<{ stopped: boolean }> {
    return this.call('POST', `/api/jobs/${encodeURIComponent(id)}/stop`, { signal });
  }

  /** True when the package is already stored (GET also pins it for 10 minutes). */
  async hasPackage(uri: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.call('GET', `/api/packages/gcs/${packageName(uri)}`, { signal, retries: 1 });
      return true;
    } catch (err) {
      if (err instanceof DashboardHttpError && err.status === 404) return false;
      throw err;
    }
  }

  async putPackage(uri: string, zip: Buffer, signal?: AbortSignal): Promise<void> {
    const { request } = await loadHttp();
    const { dispatcher, headers } = await this.transport();
    headers['content-type'] = 'application/octet-stream';
    const path = `/api/packages/gcs/${packageName(uri)}`;
    const res = await request(`${this.url}${path}`, {
      method: 'PUT',
      headers,
      body: zip,
      dispatcher,
      signal,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new DashboardHttpError(res.statusCode, text, path);
  }

  /** The last `lines` lines of a job's driver log, read by Ray on the node that ran the driver. */
  async jobLogTail(
    submissionId: string,
    lines: number,
    nodeId?: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const { request } = await loadHttp();
    const { dispatcher, headers } = await this.transport();
    // Ray 2.60 needs the driver's node as well as the submission id.
    const node = nodeId ? `&node_id=${encodeURIComponent(nodeId)}` : '';
    const path = `/api/v0/logs/file?submission_id=${encodeURIComponent(submissionId)}${node}&lines=${lines}&timeout=10`;
    const res = await request(`${this.url}${path}`, {
      headers,
      dispatcher,
      signal,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new DashboardHttpError(res.statusCode, text, path);
    // Ray 2.52+ streams the raw log (about 2.4x prefixed chunks with 1 or 0; not supported here).
    return text;
  }

  /** Per-node resource usage from the autoscaler's view (`/api/cluster_status`), camelCased by Ray. */
  clusterStatus(signal?: AbortSignal): Promise<{ result: boolean; data: Record<string, unknown> }> {
    return this.call('GET', '/api/cluster_status?format=0', { signal });
  }
}

/** Maps a dashboard failure to what a user can act on. */
export function dashboardError(url: string, err: unknown): RayMcpError {
  if (err instanceof DashboardHttpError) {
    if (err.status === 401 || err.status === 403) {
      return new RayMcpError(
        'unavailable',
        `The Ray dashboard at ${url} refused the request (${err.status}): it uses token authentication.`,
        'Set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) for ray-mcp to the cluster token, then restart ray-mcp.',
        { cause: err },
      );
    }
    return new RayMcpError('unavailable', err.message, 'Check the cluster with inspect_ray_cluster.', {
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RayMcpError(
    'unavailable',
    `The Ray dashboard at ${url} cannot be reached: ${message}`,
    'Check that the cluster is running and that the address is right.',
    { cause: err },
  );
}

/** gcs://_ray_pkg_<hex>.zip → _ray_pkg_<hex>.zip */
function packageName(uri: string): string {
  return uri.replace(/^gcs:\/\//, '');
}
