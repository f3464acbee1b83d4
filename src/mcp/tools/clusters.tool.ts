import { type ClusterView, ClusterViewSchema } from '../../domain/cluster.js';
import { eventsLine } from '../../domain/kube-events.js';
import {
  ClusterChangeOutputSchema,
  ClusterIdInputSchema,
  InitClusterInputSchema,
  InspectClusterOutputSchema,
  ListClustersInputSchema,
  ListClustersOutputSchema,
  ScaleClusterInputSchema,
  StopClusterInputSchema,
} from '../../domain/tools/clusters.js';
import { ALREADY_STARTED, callAgain } from '../../domain/waits.js';
import { defineTool, type ToolContext } from './tool.js';

/** Longest wait past a start's own timeout: the cluster actor answers with the outcome first. */
const GRACE_MS = 60_000;

export const initRayCluster = defineTool({
  name: 'init_ray_cluster',
  title: 'Start or connect a Ray cluster',
  description:
    'Starts a local Ray cluster (no arguments: a head, all CPUs) and waits until usable; cluster_type ' +
    '"kubernetes": a KubeRay RayCluster; address: connects to a running one. A failed start leaves nothing running.',
  input: InitClusterInputSchema,
  output: ClusterViewSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, { run }) {
    const onKube = args.cluster_type !== undefined && args.cluster_type !== 'local';
    const seconds = args.timeout_seconds ?? (onKube ? 600 : 120);
    const view = await run('cluster.init', args, { timeoutMs: seconds * 1000 + GRACE_MS });
    const k = view.kubernetes;
    if (view.pending) {
      const kind = args.cluster_type ? `, cluster_type="${args.cluster_type}"` : '';
      return {
        structured: view,
        text: `${view.cluster_id} is still ${view.status}. ${callAgain('init_ray_cluster', `cluster_name="${view.cluster_id}"${kind}`)}`,
      };
    }
    if (view.note === ALREADY_STARTED)
      return { structured: view, text: `${view.cluster_id} is ${view.status}. ${ALREADY_STARTED}` };
    if (k) {
      return {
        structured: view,
        text:
          `Started RayCluster ${k.namespace}/${k.name} on ${k.context}: head + ${k.ready_workers} worker(s) ready` +
          ` (Ray ${view.ray_version}). Dashboard via the API server proxy: ${view.dashboard_url}.`,
      };
    }
    if (view.kind === 'external') {
      return {
        structured: view,
        text: `Connected to Ray ${view.ray_version} at ${view.dashboard_url} as ${view.cluster_id} (external: stop only disconnects).`,
      };
    }
    const workers = view.nodes.length - 1;
    return {
      structured: view,
      text: `Started ${view.cluster_id}: Ray ${view.ray_version}, head${workers ? ` + ${workers} worker(s)` : ''}, dashboard ${view.dashboard_url}.`,
    };
  },
});

export const stopRayCluster = defineTool({
  name: 'stop_ray_cluster',
  title: 'Stop a Ray cluster',
  description:
    'Stops a cluster ray-mcp started (its own processes only) or deletes a RayCluster it created or cluster_id ' +
    'names; a connected one is only disconnected. Idempotent.',
  input: StopClusterInputSchema,
  output: ClusterChangeOutputSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  confirm: {
    guards: true,
    async preview({ cluster_id }, ctx) {
      const view = await currentView(ctx, cluster_id);
      if (!view || view.status === 'stopped' || view.kind === 'external') return undefined;
      const k = view.kubernetes;
      // A RayCluster ray-mcp did not create, stopped as "current", is only untracked.
      if (k && !view.owned && cluster_id === undefined) return undefined;
      const jobs = await runningJobs(ctx, view.cluster_id);
      return {
        structured: view,
        action: k
          ? `Delete RayCluster ${k.namespace}/${k.name} on ${k.context} and its pods`
          : `Stop local cluster ${view.cluster_id}: its ${view.nodes.length} node process(es) end`,
        running: jobs.lines,
        risky: k !== undefined || jobs.ids.length > 0,
        state: { target: targetOf(view), jobs: jobs.ids },
        protectedBy: view.protected
          ? k
            ? 'label or annotation ray-mcp/protected=true'
            : 'started with protected=true'
          : undefined,
      };
    },
  },
  async handler(args, { run }) {
    const { view, deleted, already } = await run('cluster.stop', args, { timeoutMs: 180_000 + GRACE_MS });
    const k = view.kubernetes;
    if (view.pending) {
      return {
        structured: view,
        text: `${view.cluster_id} is still ${view.status}. ${callAgain('stop_ray_cluster', `cluster_id="${view.cluster_id}"`)}`,
      };
    }
    return {
      structured: view,
      text: k
        ? already
          ? `RayCluster ${k.namespace}/${k.name} on ${k.context} is already gone: nothing to delete.`
          : deleted
            ? `Deleted RayCluster ${k.namespace}/${k.name} on ${k.context}; its pods are gone.${view.note ? ` ${view.note}` : ''}`
            : `Stopped tracking RayCluster ${k.namespace}/${k.name}; ray-mcp did not create it, so it keeps running (name it with cluster_id to delete it).`
        : view.owned
          ? `Stopped ${view.cluster_id}: its processes are gone and its ports freed.${view.note ? ` ${view.note}` : ''}`
          : `Disconnected from ${view.cluster_id}; the cluster itself keeps running.`,
    };
  },
});

export const inspectRayCluster = defineTool({
  name: 'inspect_ray_cluster',
  title: 'Inspect a Ray cluster',
  description:
    "A cluster's status, nodes, resource use and job counts; for a failed one, why. KubeRay: its events.",
  input: ClusterIdInputSchema,
  output: InspectClusterOutputSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const view = await run('cluster.inspect', args);
    const alive = view.nodes.filter((n) => n.alive).length;
    const cpu = view.details?.usage.CPU;
    return {
      structured: view,
      text:
        `${view.cluster_id} is ${view.status}: ${alive}/${view.nodes.length} node(s) alive` +
        (cpu ? `, CPU ${cpu.used}/${cpu.total} in use` : '') +
        (view.error ? `. ${view.error.message}` : '.') +
        eventsLine(view.events),
    };
  },
});

export const listRayClusters = defineTool({
  name: 'list_ray_clusters',
  title: 'List Ray clusters',
  description: 'Clusters ray-mcp knows and RayClusters on connected Kubernetes clusters, with status.',
  input: ListClustersInputSchema,
  output: ListClustersOutputSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const list = await run('cluster.list', args);
    return {
      structured: list,
      text: list.clusters.length
        ? list.clusters
            .map((r) => `${r.cluster_id} (${r.kind}${r.namespace ? ` ${r.namespace}` : ''}) ${r.status}`)
            .join('; ')
        : 'No clusters. Start one with init_ray_cluster.',
    };
  },
});

export const scaleRayCluster = defineTool({
  name: 'scale_ray_cluster',
  title: 'Scale a Ray cluster',
  description:
    'Sets the worker count of a local node type or KubeRay worker group and waits; idle workers go first.',
  input: ScaleClusterInputSchema,
  output: ClusterChangeOutputSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  confirm: {
    guards: false,
    async preview(args, ctx) {
      const view = await currentView(ctx, args.cluster_id);
      if (!view || view.status === 'stopped' || view.kind === 'external') return undefined;
      const k = view.kubernetes;
      let group: string | undefined;
      let now: number | undefined;
      let target: number | undefined;
      if (k) {
        group =
          args.worker_group ?? (k.worker_groups.length === 1 ? k.worker_groups[0]?.group_name : undefined);
        const wg = k.worker_groups.find((g) => g.group_name === group);
        now = wg?.replicas;
        target =
          args.max_replicas === 0
            ? 0
            : (args.workers ??
              (args.workers_to_delete && now !== undefined
                ? now - args.workers_to_delete.length
                : undefined));
      } else {
        group = args.node_type ?? 'worker';
        now = view.nodes.filter((n) => n.node_type === group && n.alive).length;
        target = args.workers;
      }
      if (group === undefined || now === undefined || target === undefined) return undefined;
      const toZero = target <= 0 && now > 0;
      const jobs = toZero ? await runningJobs(ctx, view.cluster_id) : { ids: [], lines: [] };
      const busy = toZero
        ? view.nodes
            .filter((n) => n.node_type === group)
            .map((n) => ({
              n,
              used:
                (n.resources_total?.CPU ?? 0) - (n.resources_available?.CPU ?? n.resources_total?.CPU ?? 0),
            }))
            .filter(({ used }) => used > 0)
            .map(({ n, used }) => `${used} CPU in use on ${n.name}`)
        : [];
      return {
        structured: view,
        action: `Scale ${k ? 'worker group' : 'node type'} ${group} of ${view.cluster_id} from ${now} to ${Math.max(target, 0)} worker(s)`,
        running: [...jobs.lines, ...busy],
        risky: toZero && jobs.ids.length + busy.length > 0,
        state: { target: targetOf(view), group, now, jobs: jobs.ids, busy: busy.length > 0 },
      };
    },
  },
  async handler(args, { run }) {
    const { view, group, nodeType } = await run('cluster.scale', args, { timeoutMs: 200_000 + GRACE_MS });
    if (view.pending) {
      return {
        structured: view,
        text: `${view.cluster_id} is still scaling. ${callAgain('scale_ray_cluster', 'the same arguments')}`,
      };
    }
    if (group) {
      const wg = view.kubernetes?.worker_groups.find((x) => x.group_name === group);
      return {
        structured: view,
        text: `${view.cluster_id}: worker group ${group} has ${wg?.ready ?? 0}/${wg?.replicas ?? 0} ready (min ${wg?.min_replicas}, max ${wg?.max_replicas}).`,
      };
    }
    const count = view.nodes.filter((n) => n.node_type === nodeType && n.alive).length;
    return {
      structured: view,
      text: `${view.cluster_id} now has ${count} worker(s) of type ${nodeType} alive.`,
    };
  },
});

export const CLUSTER_TOOLS = [
  initRayCluster,
  stopRayCluster,
  inspectRayCluster,
  listRayClusters,
  scaleRayCluster,
];

/** The cluster a call means, as it is now; undefined when it cannot be read (the call itself will say why). */
async function currentView(
  ctx: ToolContext,
  cluster_id: string | undefined,
): Promise<ClusterView | undefined> {
  try {
    const { details: _d, ...view } = await ctx.run('cluster.inspect', { cluster_id }, { timeoutMs: 45_000 });
    return view;
  } catch {
    return undefined;
  }
}

/** What identifies a cluster across the preview and the confirmed call. */
const targetOf = (v: ClusterView) => [
  v.cluster_id,
  v.kind,
  v.created_at,
  v.kubernetes?.context,
  v.kubernetes?.namespace,
];

/** The running and pending jobs of a cluster; when they cannot be listed, a line saying so (and a risk). */
async function runningJobs(
  ctx: ToolContext,
  cluster_id: string,
): Promise<{ ids: string[]; lines: string[] }> {
  try {
    const list = await ctx.run('job.list', { cluster_id, status: ['RUNNING', 'PENDING'], limit: 20 });
    const ids = list.jobs.map((j) => j.submission_id).sort();
    return {
      ids,
      lines: ids.length
        ? [
            `${list.total} running or pending job(s): ${list.jobs.map((j) => `${j.submission_id} (${j.status})`).join(', ')}`,
          ]
        : [],
    };
  } catch (err) {
    return {
      ids: ['?'],
      lines: [
        `its jobs could not be listed (${err instanceof Error ? err.message.slice(0, 120) : 'unknown'})`,
      ],
    };
  }
}
