/**
 * The only code that talks HTTP to a Ray dashboard. undici's `request`, never the global fetch:
 * fetch adds `sec-fetch-mode`, and Ray 2.52+ refuses such POSTs as browser traffic. Idempotent
 * GETs retry with backoff; errors are typed so tools can say what went wrong. A request names its
 * dashboard with a DashboardTarget: where it is, which Kubernetes connection reaches it, whose it is.
 */
import type { Dispatcher } from 'undici';
import type { DashboardTarget } from '../domain/dashboard.js';
import { RayMcpError } from '../domain/errors.js';
import { deniedPermission } from '../domain/kube.js';
import type {
  RayActorState,
  RayJobDetails,
  RayJobFailures,
  RayNodeState,
  RayTaskState,
  RayVersionInfo,
} from '../domain/ray-api.js';
import { type SecretSink, untrustedText } from '../domain/redact.js';
import type { RayServeDetails } from '../domain/serve.js';

/**
 * An error answer of a dashboard. The body is untrusted: the message quotes it bounded and
 * redacted (a Python traceback as its exception line); the raw body stays for matching only,
 * out of logs (not enumerable).
 */
export class DashboardHttpError extends Error {
  declare readonly body: string;
  constructor(
    readonly status: number,
    body: string,
    readonly path: string,
    secrets?: Pick<SecretSink, 'text'>,
  ) {
    super(`Ray dashboard answered ${status} for ${path.slice(0, 200)}: ${untrustedText(body, 300, secrets)}`);
    this.name = 'DashboardHttpError';
    Object.defineProperty(this, 'body', { value: body.slice(0, 65_536), enumerable: false });
  }
}

export type { RayJobDetails, RayNodeState, RayVersionInfo };

interface StateApiReply<T> {
  result: boolean;
  msg: string;
  data: { result: { total: number; result: T[] } };
}

// undici loads on first use (start-up stays fast).
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => {
  undici ??= import('undici');
  return undici;
};

/** What a request to a dashboard goes through: a dispatcher and the headers that come with it. */
export interface DashboardTransport {
  dispatcher: Dispatcher;
  headers: Record<string, string>;
}

/** The clients of the Kubernetes connections, by connection id (KubeClients is one). */
export interface ConnectionTransports {
  /** Throws a clear error when the connection is not connected. */
  require(connectionId: string): { transport(): Promise<DashboardTransport> };
}

/**
 * The dashboards of one actor system. A dashboard behind a Kubernetes API server's service proxy
 * (`target.connectionId`) is reached with that connection's client, looked up per request, so a
 * disconnected connection sends nothing; `Authorization` then belongs to Kubernetes and the Ray
 * token travels in `X-Ray-Authorization` only. Any other dashboard goes through one small direct
 * pool (loopback dashboards answer fast). What a dashboard's `/api/authentication_mode` says is
 * kept per owner (one cluster actor instance), never per URL: a port is reused by the next cluster.
 */
export class Dashboards {
  private readonly authModes = new Map<string, Promise<string>>();
  private agent?: Dispatcher;

  constructor(
    private readonly opts: { token?: string; connections?: ConnectionTransports; secrets?: SecretSink } = {},
  ) {}

  /** Where the secrets of this system are known: error bodies are scrubbed with it. */
  get secrets(): SecretSink | undefined {
    return this.opts.secrets;
  }

  client(target: DashboardTarget, opts: { timeoutMs?: number } = {}): DashboardClient {
    return new DashboardClient(target, this, opts.timeoutMs);
  }

  /** Forgets what was learnt about the dashboard of `owner` (its cluster actor is gone). */
  drop(owner: string): void {
    this.authModes.delete(owner);
  }

  async close(): Promise<void> {
    this.authModes.clear();
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close().catch(() => {});
  }

  /** The dispatcher and headers for a request to `target`, the Ray token included when it wants one. */
  async transport(target: DashboardTarget, timeoutMs: number): Promise<DashboardTransport> {
    const base = await this.base(target);
    const headers: Record<string, string> = { 'user-agent': 'ray-mcp', ...base.headers };
    const token = this.opts.token;
    if (token && (await this.authMode(target, timeoutMs)) === 'token') {
      headers['x-ray-authorization'] = `Bearer ${token}`;
      if (!target.connectionId) headers.authorization = `Bearer ${token}`;
    }
    return { dispatcher: base.dispatcher, headers };
  }

  /**
   * After a 401/403: forget the owner's auth mode so the next request asks again (the cluster may
   * have turned token auth on). False when asking again cannot change anything (no token).
   */
  reprobe(owner: string): boolean {
    if (!this.opts.token) return false;
    this.authModes.delete(owner);
    return true;
  }

  private async base(target: DashboardTarget): Promise<DashboardTransport> {
    if (target.connectionId) {
      if (!this.opts.connections) throw notConnected(target.connectionId);
      return this.opts.connections.require(target.connectionId).transport();
    }
    if (!this.agent) {
      const { Agent } = await loadUndici();
      this.agent ??= new Agent({ keepAliveTimeout: 10_000, connections: 16 });
    }
    return { dispatcher: this.agent, headers: {} };
  }

  /** The token goes only to a dashboard that asks for one: an external one without auth never sees it. */
  private authMode(target: DashboardTarget, timeoutMs: number): Promise<string> {
    const known = this.authModes.get(target.owner);
    if (known) return known;
    const mode: Promise<string> = this.probeAuthMode(target, timeoutMs).then((m) => {
      // Not learnt (unreachable, refused): ask again next time.
      if (m === 'unknown' && this.authModes.get(target.owner) === mode) this.authModes.delete(target.owner);
      return m;
    });
    this.authModes.set(target.owner, mode);
    return mode;
  }

  private async probeAuthMode(target: DashboardTarget, timeoutMs: number): Promise<string> {
    try {
      const { request } = await loadUndici();
      const { dispatcher, headers } = await this.base(target);
      const res = await request(`${trimUrl(target.url)}/api/authentication_mode`, {
        dispatcher,
        headers: { 'user-agent': 'ray-mcp', ...headers },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = await res.body.text();
      // 404: Ray before 2.52, no token auth.
      if (res.statusCode === 404) return 'disabled';
      if (res.statusCode !== 200) return 'unknown';
      return (JSON.parse(text) as { authentication_mode?: string }).authentication_mode ?? 'disabled';
    } catch {
      return 'unknown';
    }
  }
}

const trimUrl = (url: string) => url.replace(/\/+$/, '');

function notConnected(connectionId: string): RayMcpError {
  return new RayMcpError(
    'unavailable',
    `Kubernetes connection ${connectionId} is not connected.`,
    'Connect again with connect_kubernetes_cluster.',
  );
}

/** One dashboard, as its target names it; made by `Dashboards.client`. */
export class DashboardClient {
  readonly url: string;
  private readonly timeoutMs: number;

  constructor(
    readonly target: DashboardTarget,
    private readonly dashboards: Dashboards,
    timeoutMs?: number,
  ) {
    this.url = trimUrl(target.url);
    this.timeoutMs = timeoutMs ?? 5000;
  }

  private httpError(status: number, text: string, path: string): DashboardHttpError {
    return new DashboardHttpError(status, text, path, this.dashboards.secrets);
  }

  /** One request; a 401/403 makes the owner's auth mode be asked again and the request sent once more. */
  private async send(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    opts: { body?: string | Buffer; contentType?: string; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<{ status: number; text: string }> {
    const { request } = await loadUndici();
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const { dispatcher, headers } = await this.dashboards.transport(this.target, this.timeoutMs);
      if (opts.contentType) headers['content-type'] = opts.contentType;
      const res = await request(`${this.url}${path}`, {
        method,
        headers,
        body: opts.body,
        dispatcher,
        signal: opts.signal,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const text = await res.body.text();
      // Ray's refusal, not the API server's (a Kubernetes Status): its auth mode may have changed.
      const refused = (res.statusCode === 401 || res.statusCode === 403) && !kubeStatusMessage(text);
      if (refused && attempt === 0 && this.dashboards.reprobe(this.target.owner)) continue;
      return { status: res.statusCode, text };
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
        const json = opts.body !== undefined;
        const res = await this.send(method, path, {
          body: json ? JSON.stringify(opts.body) : undefined,
          contentType: json ? 'application/json' : undefined,
          signal: opts.signal,
          timeoutMs: opts.timeoutMs,
        });
        if (res.status >= 400) throw this.httpError(res.status, res.text, path);
        return (res.text ? JSON.parse(res.text) : undefined) as T;
      } catch (err) {
        // Our own errors (a connection that is gone) say what to do; retrying changes nothing.
        const retriable =
          !(err instanceof RayMcpError) &&
          (!(err instanceof DashboardHttpError) || err.status >= 500 || err.status === 429);
        if (attempt >= retries || !retriable || opts.signal?.aborted) throw err;
        attempt++;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  /** GET /api/gcs_healthz: true when the GCS answers. Never throws. */
  async gcsHealthy(signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.send('GET', '/api/gcs_healthz', { signal })).status === 200;
    } catch {
      return false;
    }
  }

  /**
   * For a node's dashboard agent (this client's url is the agent's): asks its job module for a job
   * that does not exist. The first such request makes the agent connect to Ray and build its job
   * manager (about a second), which the first job submission would otherwise wait for. True once
   * the agent answered (404 is the expected answer).
   */
  async warmJobAgent(signal?: AbortSignal, timeoutMs = 30_000): Promise<boolean> {
    try {
      const res = await this.send('GET', '/api/job_agent/jobs/ray-mcp-warmup/logs', { signal, timeoutMs });
      return res.status === 404 || res.status === 200;
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
    const path = `/api/packages/gcs/${packageName(uri)}`;
    const res = await this.send('PUT', path, {
      body: zip,
      contentType: 'application/octet-stream',
      signal,
      timeoutMs: 120_000,
    });
    if (res.status >= 400) throw this.httpError(res.status, res.text, path);
  }

  /** The last `lines` lines of a job's driver log, read by Ray on the node that ran the driver. */
  async jobLogTail(
    submissionId: string,
    lines: number,
    nodeId?: string,
    signal?: AbortSignal,
  ): Promise<string> {
    // Ray 2.60 needs the driver's node as well as the submission id.
    const node = nodeId ? `&node_id=${encodeURIComponent(nodeId)}` : '';
    const path = `/api/v0/logs/file?submission_id=${encodeURIComponent(submissionId)}${node}&lines=${lines}&timeout=10`;
    const res = await this.send('GET', path, { signal, timeoutMs: 15_000 });
    if (res.status >= 400) throw this.httpError(res.status, res.text, path);
    // Ray 2.52+ streams the raw log (about 2.4x prefixed chunks with 1 or 0; not supported here).
    return res.text;
  }

  /** GET /api/serve/applications/: Serve's applications, deployments, replicas and proxies. */
  serveDetails(signal?: AbortSignal): Promise<RayServeDetails> {
    return this.call('GET', '/api/serve/applications/', { signal, timeoutMs: 15_000 });
  }

  /** PUT /api/serve/applications/: the whole declarative config (every application). */
  async putServe(config: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    await this.call('PUT', '/api/serve/applications/', { body: config, signal, timeoutMs: 120_000 });
  }

  /** DELETE /api/serve/applications/: shuts Serve down (every application, its controller and proxies). */
  async deleteServe(signal?: AbortSignal): Promise<void> {
    await this.call('DELETE', '/api/serve/applications/', { signal, timeoutMs: 60_000 });
  }

  /** The state API's failed tasks and dead actors of one Ray job (hex job id), with details. */
  async jobFailures(jobId: string, limit: number, signal?: AbortSignal): Promise<RayJobFailures> {
    const q = (state: string) =>
      `limit=${limit}&detail=true&filter_keys=job_id&filter_predicates=%3D&filter_values=${encodeURIComponent(jobId)}` +
      `&filter_keys=state&filter_predicates=%3D&filter_values=${state}`;
    const [tasks, actors] = await Promise.all([
      this.call<StateApiReply<RayTaskState>>('GET', `/api/v0/tasks?${q('FAILED')}`, { signal }),
      this.call<StateApiReply<RayActorState>>('GET', `/api/v0/actors?${q('DEAD')}`, { signal }),
    ]);
    return {
      tasks: tasks.data.result.result,
      actors: actors.data.result.result,
      totalTasks: tasks.data.result.total,
      totalActors: actors.data.result.total,
    };
  }

  /** Per-node resource usage from the autoscaler's view (`/api/cluster_status`), camelCased by Ray. */
  clusterStatus(signal?: AbortSignal): Promise<{ result: boolean; data: Record<string, unknown> }> {
    return this.call('GET', '/api/cluster_status?format=0', { signal });
  }
}

/** Maps a dashboard failure to what a user can act on. */
export function dashboardError(url: string, err: unknown): RayMcpError {
  if (err instanceof RayMcpError) return err;
  if (err instanceof DashboardHttpError) {
    const kube = kubeStatusMessage(err.body);
    const proxy = serviceProxyOf(url);
    if (kube && (err.status === 401 || err.status === 403)) {
      // The API server's service proxy said no, before any Ray saw the request: Kubernetes RBAC, not Ray.
      const missing = missingPermission(kube);
      return new RayMcpError(
        err.status === 401 ? 'unauthenticated' : 'forbidden',
        err.status === 401
          ? `The Kubernetes API server refused the credentials for the Ray dashboard at ${url} (401): ${untrustedText(kube, 300)}`
          : `The Kubernetes API server refused the request to the Ray dashboard at ${url} (403): Kubernetes RBAC` +
              `${missing ? ` lacks ${missing}` : ' refused it'} (a Kubernetes permission, not a Ray token). ${untrustedText(kube, 300)}`,
        err.status === 401
          ? 'Refresh the Kubernetes credentials, then connect_kubernetes_cluster again.'
          : `Ask a cluster admin for a Role granting ${missing ?? 'get on services/proxy'} (verb get, resource services/proxy), or use a context that has it.`,
        { cause: err },
      );
    }
    if (kube && proxy && (err.status === 404 || err.status === 503)) {
      // The API server could not route to the head pod: the Service has no ready endpoint (yet).
      return new RayMcpError(
        'unavailable',
        `The Ray dashboard of ${proxy.namespace}/${proxy.service} is not reachable yet: no ready endpoint for the head service (the API server answered ${err.status}: ${untrustedText(kube, 200)}).`,
        `Check that the head pod is Running and Ready (inspect_ray_cluster) and that Service ${proxy.service} in namespace ${proxy.namespace} has a ready endpoint (kubectl get endpointslices -n ${proxy.namespace} -l kubernetes.io/service-name=${proxy.service}); then try again.`,
        { cause: err },
      );
    }
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

/** The namespace and Service of a dashboard URL through the API server's service proxy. */
function serviceProxyOf(url: string): { namespace: string; service: string } | undefined {
  const m = /\/api\/v1\/namespaces\/([^/]+)\/services\/([^/:]+)(?::[^/]*)?\/proxy/.exec(url);
  return m ? { namespace: decodeURIComponent(m[1]!), service: decodeURIComponent(m[2]!) } : undefined;
}

/** What RBAC refused, from the API server's message: `get on services/proxy in namespace team-a`. */
function missingPermission(message: string): string | undefined {
  const d = deniedPermission(message);
  return d && `${d.verb} on ${d.resource}${d.namespace ? ` in namespace ${d.namespace}` : ''}`;
}

/** The message of a Kubernetes Status (an API server's own answer, not Ray's), if the body is one. */
function kubeStatusMessage(body: string): string | undefined {
  if (!body.includes('"Status"')) return undefined;
  try {
    const status = JSON.parse(body) as { kind?: string; message?: string };
    return status.kind === 'Status' ? (status.message ?? 'refused') : undefined;
  } catch {
    return undefined;
  }
}

/** gcs://_ray_pkg_<hex>.zip → _ray_pkg_<hex>.zip */
function packageName(uri: string): string {
  return uri.replace(/^gcs:\/\//, '');
}
