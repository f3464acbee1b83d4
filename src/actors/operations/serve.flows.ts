/**
 * The flows of the Serve tools: which local cluster, its Serve network (the head's ports from the
 * allocator), then commands on the cluster's jobs actor (deploy, remove, status), polling the status
 * until the application runs, fails, or the wait ends.
 */
import type { DashboardTarget } from '../../domain/dashboard.js';
import { RayMcpError } from '../../domain/errors.js';
import type { ServeOperations } from '../../domain/operations/serve.js';
import {
  APP_FAILED,
  MAX_SERVE_APPS,
  proxyUrl,
  type RayServeDetails,
  type ServeAppConfig,
  type ServeAppView,
  type ServeNetwork,
  serveAppView,
} from '../../domain/serve.js';
import type { DeploymentConfigInput, DeployServeInput } from '../../domain/tools/serve.js';
import type { JobsActor } from '../../machines/jobs.machine.js';
import { isLocal } from '../cluster-records.js';
import { clusterView, dashboardOf } from '../views/cluster.view.js';
import type { FlowsOf } from './flow.js';
import type { Ops } from './ops.js';
import {
  deleteRayService,
  deployRayService,
  followRayService,
  isKubeServe,
  listRayServices,
} from './rayservice.flows.js';
import { resolveCluster } from './resolve.js';

const DEFAULT_WAIT_SECONDS = 45;
const POLL_MS = 1000;
/** A working_dir upload and Serve's first start (controller, proxy) can take a while. */
const APPLY_TIMEOUT_MS = 300_000;
const DELETE_WAIT_MS = 30_000;

interface ServeTarget {
  clusterId: string;
  dashboard: DashboardTarget;
  jobs: JobsActor;
  net: ServeNetwork;
}

/** A running local cluster and the Serve ports ray-mcp reserved for its head. */
function serveTarget(ops: Ops, clusterId: string | undefined): ServeTarget {
  const actor = resolveCluster(ops, clusterId);
  const view = clusterView(actor, ops.now());
  if (!isLocal(actor)) {
    throw new RayMcpError(
      'invalid_input',
      `Cluster ${view.cluster_id} is ${view.kind}; the Serve tools manage local clusters and KubeRay RayServices.`,
      'Name a local cluster with cluster_id, or pass cluster_type "kubernetes" for a RayService.',
    );
  }
  const dashboard = dashboardOf(actor);
  if (!(view.status === 'running' || view.status === 'degraded') || !dashboard) {
    throw new RayMcpError(
      'conflict',
      `Cluster ${view.cluster_id} is ${view.status}; Serve needs a running cluster.`,
      'Start one with init_ray_cluster, or name a running one with cluster_id.',
    );
  }
  const ports = actor.getSnapshot().context.nodes.head?.ports ?? {};
  if (ports.serveHttp === undefined || ports.serveGrpc === undefined) {
    throw new RayMcpError(
      'conflict',
      `Cluster ${view.cluster_id} was started without Serve ports (by an older ray-mcp).`,
      'Stop it and start it again with init_ray_cluster.',
    );
  }
  return {
    clusterId: view.cluster_id,
    dashboard,
    jobs: ops.jobs(view.cluster_id),
    net: { host: '127.0.0.1', httpPort: ports.serveHttp, grpcPort: ports.serveGrpc },
  };
}

async function status(ops: Ops, t: ServeTarget): Promise<RayServeDetails> {
  const { data } = await ops.askForAnswer(t.jobs, { type: 'serve.status', dashboard: t.dashboard });
  return data;
}

/** Ray's deployment config from the tool's friendlier one. */
function deploymentConfig(d: DeploymentConfigInput): Record<string, unknown> {
  const out: Record<string, unknown> = { name: d.name };
  if (d.num_replicas !== undefined) out.num_replicas = d.num_replicas;
  if (d.autoscaling) out.autoscaling_config = { ...d.autoscaling };
  if (d.max_ongoing_requests !== undefined) out.max_ongoing_requests = d.max_ongoing_requests;
  const actor: Record<string, unknown> = {};
  for (const k of ['num_cpus', 'num_gpus', 'memory', 'resources'] as const)
    if (d[k] !== undefined) actor[k] = d[k];
  if (Object.keys(actor).length) out.ray_actor_options = actor;
  return out;
}

export function appConfig(args: DeployServeInput): ServeAppConfig {
  if (args.deployments?.some((d) => d.num_replicas !== undefined && d.autoscaling)) {
    throw new RayMcpError(
      'invalid_input',
      'A deployment takes num_replicas or autoscaling, not both.',
      'Drop one of them.',
    );
  }
  const app: ServeAppConfig = {
    name: args.name,
    import_path: args.import_path,
    route_prefix: args.route_prefix ?? `/${args.name}`,
  };
  if (args.runtime_env && Object.keys(args.runtime_env).length) app.runtime_env = { ...args.runtime_env };
  if (args.deployments?.length) app.deployments = args.deployments.map(deploymentConfig);
  return app;
}

/** The RayService's own arguments on a local deploy: say so rather than ignore them. */
function refuseKubeArgs(args: DeployServeInput): void {
  const given = (['ray_version', 'image', 'head_node_spec', 'worker_node_specs', 'dry_run'] as const).filter(
    (k) => args[k] !== undefined,
  );
  if (given.length) {
    throw new RayMcpError(
      'invalid_input',
      `${given.join(', ')} apply to a KubeRay RayService only.`,
      'Add cluster_type "kubernetes" for a RayService, or drop them for a local cluster.',
    );
  }
}

const appOf = (details: RayServeDetails, name: string) => details.applications?.[name];

export const serveFlows: FlowsOf<ServeOperations> = {
  async 'serve.deploy'(ops, args) {
    const app = appConfig(args);
    if (isKubeServe(args)) return deployRayService(ops, args, app);
    refuseKubeArgs(args);
    const t = serveTarget(ops, args.cluster_id);
    const { data } = await ops.askForAnswer(
      t.jobs,
      { type: 'serve.apply', dashboard: t.dashboard, app, net: t.net },
      { timeoutMs: APPLY_TIMEOUT_MS },
    );
    const started = ops.now();
    const waitMs = (args.wait_seconds ?? DEFAULT_WAIT_SECONDS) * 1000;
    let view: ServeAppView | undefined;
    let lastStatus = '';
    for (;;) {
      const details = await status(ops, t);
      const ray = appOf(details, app.name);
      // Until Ray has taken the new config, it may still report the last deployment.
      const current = ray && (ray.last_deployed_time_s ?? 0) >= data.at - 1 ? ray : undefined;
      if (current) view = serveAppView(current, proxyUrl(details, t.net));
      const secs = Math.round((ops.now() - started) / 1000);
      const now = view ? `${view.status}${view.healthy ? ' (healthy)' : ''}` : 'DEPLOYING';
      if (now !== lastStatus || secs % 5 === 0) ops.progress(secs, waitMs / 1000, `${app.name}: ${now}`);
      lastStatus = now;
      const failed = !!view && (APP_FAILED as readonly string[]).includes(view.status);
      if (view?.healthy || failed || ops.now() - started >= waitMs) {
        const waited = Math.round((ops.now() - started) / 100) / 10;
        const shown = view ?? (ray ? serveAppView(ray, proxyUrl(details, t.net)) : undefined);
        if (!shown) {
          throw new RayMcpError(
            'unavailable',
            `Ray did not list application ${app.name} after the deploy.`,
            'Check it with list_serve_apps.',
          );
        }
        return { cluster_id: t.clusterId, app: shown, ready: shown.healthy, failed, waited_seconds: waited };
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (ops.signal.aborted) {
        throw new RayMcpError('timeout', 'The deploy wait was cancelled.', 'Check it with list_serve_apps.');
      }
    }
  },

  async 'serve.list'(ops, args) {
    if (isKubeServe(args)) return listRayServices(ops, args);
    const t = serveTarget(ops, args.cluster_id);
    const details = await status(ops, t);
    const base = proxyUrl(details, t.net);
    const all = Object.values(details.applications ?? {});
    if (args.name && !appOf(details, args.name)) {
      throw new RayMcpError(
        'not_found',
        `No Serve application ${args.name} on ${t.clusterId}.`,
        all.length
          ? `Its applications: ${all.map((a) => a.name).join(', ')}.`
          : 'Deploy one with deploy_serve_app.',
      );
    }
    const apps = all
      .filter((a) => !args.name || a.name === args.name)
      .slice(0, MAX_SERVE_APPS)
      .map((a) => serveAppView(a, base));
    const running = !!details.http_options || !!Object.keys(details.proxies ?? {}).length || all.length > 0;
    return { cluster_id: t.clusterId, running, proxy_url: running ? base : undefined, apps };
  },

  async 'serve.delete'(ops, args) {
    if (isKubeServe(args)) return deleteRayService(ops, args);
    const t = serveTarget(ops, args.cluster_id);
    const { data } = await ops.askForAnswer(
      t.jobs,
      { type: 'serve.remove', dashboard: t.dashboard, name: args.name, net: t.net },
      { timeoutMs: APPLY_TIMEOUT_MS },
    );
    if (data.removed) {
      // Ray deletes an application's replicas in the background: wait until it is gone.
      const deadline = ops.now() + DELETE_WAIT_MS;
      while (ops.now() < deadline) {
        const details = await status(ops, t);
        if (!appOf(details, args.name)) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
    return {
      cluster_id: t.clusterId,
      name: args.name,
      deleted: data.removed,
      serve_stopped: data.stopped,
      remaining: data.remaining,
    };
  },

  'rayservice.follow': (ops, args) => followRayService(ops, args),
};
