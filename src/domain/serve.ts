/**
 * Ray Serve as ray-mcp sees it, pure: the slice of the dashboard's Serve REST API
 * (`/api/serve/applications/`, Ray 2.60 `ray.serve.schema`) it reads and writes, the merge of one
 * application into the declarative config (a PUT replaces every application), and the compact view
 * tools return. Ray's messages are untrusted: bounded, control characters and secrets removed.
 */
import { redactText } from './audit.js';

/** One application as PUT /api/serve/applications/ takes it (ServeApplicationSchema). */
export interface ServeAppConfig {
  name: string;
  import_path: string;
  route_prefix?: string | null;
  runtime_env?: Record<string, unknown>;
  args?: Record<string, unknown>;
  deployments?: Record<string, unknown>[];
}

/** The part of GET /api/serve/applications/ (ServeInstanceDetails) ray-mcp reads. */
export interface RayServeDetails {
  proxy_location?: string | null;
  http_options?: { host?: string; port?: number } | null;
  grpc_options?: { port?: number } | null;
  proxies?: Record<string, { status?: string; node_ip?: string }>;
  applications?: Record<string, RayServeApp>;
}

export interface RayServeApp {
  name: string;
  route_prefix?: string | null;
  status: string;
  message?: string;
  last_deployed_time_s?: number;
  deployed_app_config?: ServeAppConfig | null;
  deployments?: Record<
    string,
    {
      name: string;
      status: string;
      status_trigger?: string;
      message?: string;
      target_num_replicas?: number;
      replicas?: { state: string; node_ip?: string | null; pid?: number | null }[];
      deployment_config?: { autoscaling_config?: unknown; num_replicas?: unknown } | null;
    }
  >;
}

/** What ray-mcp sets for Serve on a local cluster: its proxy on the head, on ports from the allocator. */
export interface ServeNetwork {
  host: string;
  httpPort: number;
  grpcPort: number;
}

export const APP_READY = 'RUNNING';
export const APP_FAILED = ['DEPLOY_FAILED', 'UNHEALTHY'] as const;
export const MAX_SERVE_APPS = 20;
const MAX_MESSAGE = 600;

/** Text from Ray (exceptions of user code among it): bounded, no control characters, secrets redacted. */
export function untrustedText(text: string | null | undefined, max = MAX_MESSAGE): string | undefined {
  if (!text) return undefined;
  const clean = redactText(
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing escape sequences is the point
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ''),
  );
  // The end of a Python error (the exception) says the most: keep a little of its head, more of its tail.
  if (clean.length <= max) return clean;
  const head = Math.floor(max / 4);
  return `${clean.slice(0, head)} …(${clean.length - max} chars)… ${clean.slice(-(max - head))}`;
}

/**
 * The declarative config to PUT: every application Ray runs now, as it was deployed, with `app`
 * added or replacing the one of the same name (or without `remove`). Serve's proxy goes on the head
 * only (nodes of a local cluster share the host: one proxy per node would collide on the port).
 */
export function serveConfig(
  details: RayServeDetails,
  net: ServeNetwork,
  change: { app: ServeAppConfig } | { remove: string },
): Record<string, unknown> {
  const current = Object.values(details.applications ?? {})
    .map((a) => a.deployed_app_config)
    .filter((c): c is ServeAppConfig => !!c);
  const name = 'app' in change ? change.app.name : change.remove;
  const apps = current.filter((c) => c.name !== name);
  if ('app' in change) apps.push(change.app);
  return {
    proxy_location: 'HeadOnly',
    http_options: { host: net.host, port: net.httpPort },
    grpc_options: { port: net.grpcPort, grpc_servicer_functions: [] },
    applications: apps,
  };
}

export interface ServeDeploymentView {
  name: string;
  status: string;
  message?: string;
  target_replicas?: number;
  /** Replicas by state (RUNNING, STARTING, ...). */
  replicas: Record<string, number>;
  autoscaling: boolean;
}

export interface ServeAppView {
  name: string;
  status: string;
  message?: string;
  route_prefix?: string;
  /** Where the application answers over HTTP (when it has a route). */
  url?: string;
  import_path?: string;
  deployed_at?: string;
  deployments: ServeDeploymentView[];
  /** Every deployment HEALTHY with all its target replicas RUNNING. */
  healthy: boolean;
}

/** The base URL of Serve's HTTP proxy, as Serve reports it, else as ray-mcp configures it. */
export function proxyUrl(details: RayServeDetails, net?: ServeNetwork): string | undefined {
  const host = details.http_options?.host ?? net?.host;
  const port = details.http_options?.port ?? net?.httpPort;
  if (!host || !port) return undefined;
  const h = host === '0.0.0.0' ? '127.0.0.1' : host;
  return `http://${h}:${port}`;
}

export function serveAppView(app: RayServeApp, base?: string): ServeAppView {
  const deployments = Object.values(app.deployments ?? {}).map((d): ServeDeploymentView => {
    const replicas: Record<string, number> = {};
    for (const r of d.replicas ?? []) replicas[r.state] = (replicas[r.state] ?? 0) + 1;
    return {
      name: d.name,
      status: d.status,
      message: untrustedText(d.message),
      target_replicas: d.target_num_replicas,
      replicas,
      autoscaling: !!d.deployment_config?.autoscaling_config,
    };
  });
  const route = app.route_prefix ?? undefined;
  return {
    name: app.name,
    status: app.status,
    message: untrustedText(app.message),
    route_prefix: route,
    url: base && route ? `${base}${route === '/' ? '/' : route}` : undefined,
    import_path: app.deployed_app_config?.import_path,
    deployed_at: app.last_deployed_time_s
      ? new Date(app.last_deployed_time_s * 1000).toISOString()
      : undefined,
    deployments,
    healthy:
      app.status === APP_READY &&
      deployments.every(
        (d) => d.status === 'HEALTHY' && (d.replicas.RUNNING ?? 0) >= (d.target_replicas ?? 0),
      ),
  };
}
