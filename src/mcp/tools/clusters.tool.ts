import { ClusterViewSchema } from '../../domain/cluster.js';
import {
  ClusterIdInputSchema,
  InitClusterInputSchema,
  InspectClusterOutputSchema,
  ListClustersInputSchema,
  ListClustersOutputSchema,
  ScaleClusterInputSchema,
} from '../../domain/tools/clusters.js';
import { defineTool } from './tool.js';

/** Longest wait past a start's own timeout: the cluster actor answers with the outcome first. */
const GRACE_MS = 60_000;

export const initRayCluster = defineTool({
  name: 'init_ray_cluster',
  title: 'Start or connect a Ray cluster',
  description:
    'Starts a local Ray cluster and waits until it is usable (no arguments: a head with all CPUs). ' +
    'cluster_type "kubernetes": a KubeRay RayCluster on the current Kubernetes connection. address: connect to a ' +
    'running cluster. On failure: the reason, nothing left running.',
  input: InitClusterInputSchema,
  output: ClusterViewSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, { run }) {
    const onKube = args.cluster_type !== undefined && args.cluster_type !== 'local';
    const seconds = args.timeout_seconds ?? (onKube ? 600 : 120);
    const view = await run('cluster.init', args, { timeoutMs: seconds * 1000 + GRACE_MS });
    const k = view.kubernetes;
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
    'Stops a cluster ray-mcp started (only its own processes), or deletes a RayCluster it created or that ' +
    'cluster_id names; a connected cluster is only disconnected. Idempotent.',
  input: ClusterIdInputSchema,
  output: ClusterViewSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const { view, deleted } = await run('cluster.stop', args, { timeoutMs: 180_000 + GRACE_MS });
    const k = view.kubernetes;
    return {
      structured: view,
      text: k
        ? deleted
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
  description: "A cluster's status, nodes, resource use and job counts; for a failed one, why.",
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
        (view.error ? `. ${view.error.message}` : '.'),
    };
  },
});

export const listRayClusters = defineTool({
  name: 'list_ray_clusters',
  title: 'List Ray clusters',
  description: 'Clusters this server knows and RayClusters on connected Kubernetes clusters, with status.',
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
    'Sets the worker count of one node type (local; resource options apply to new workers) or of a KubeRay ' +
    'worker group (replicas, min/max, workers_to_delete), and waits until done. Removes idle workers first.',
  input: ScaleClusterInputSchema,
  output: ClusterViewSchema,
  toolsets: ['local', 'kuberay'],
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const { view, group, nodeType } = await run('cluster.scale', args, { timeoutMs: 200_000 + GRACE_MS });
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
