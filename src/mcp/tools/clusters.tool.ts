import { ClusterViewSchema } from '../../domain/cluster.js';
import { eventsLine } from '../../domain/kube-events.js';
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
    'Starts a local Ray cluster (a head and optional worker nodes, each its own process on this machine, dashboard on ' +
    '127.0.0.1) and waits until it is usable: dashboard healthy, job API answering, every node alive. With no ' +
    'arguments it starts a head with all CPUs. With cluster_type "kubernetes" it creates a RayCluster through KubeRay ' +
    '(server-side apply; head_node_spec, worker_node_specs, namespace, image or ray_version, a ClusterIP service ' +
    'unless told otherwise) on the current Kubernetes connection and waits until its pods are ready. With `address` ' +
    'it connects to a cluster ray-mcp did not start (a dashboard URL like http://HOST:8265, or a GCS address ' +
    'HOST:6379); stopping that one only disconnects. Sends progress notifications when the client asks for them. On ' +
    'failure it returns the reason (the last lines the node printed, or why the pods are not ready) and leaves ' +
    'nothing running.',
  input: InitClusterInputSchema,
  output: ClusterViewSchema,
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
    'Stops a local cluster ray-mcp started: only its own processes (never `ray stop`), then frees its ports and ' +
    'temp dir. On Kubernetes it deletes the RayCluster and waits until its pods are gone, for clusters ray-mcp ' +
    'created or ones named explicitly with cluster_id; a RayCluster ray-mcp did not create is never deleted as the ' +
    '"current" cluster. For a cluster it connected to with an address, it only disconnects. Idempotent: stopping a ' +
    'stopped cluster succeeds.',
  input: ClusterIdInputSchema,
  output: ClusterViewSchema,
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
  description:
    'Status, nodes (alive, resources total and available), cluster resource use, job counts by status, dashboard ' +
    'URL, Ray version and uptime of one cluster; for a failed cluster, why it failed. KubeRay: its Kubernetes events, with hints.',
  input: ClusterIdInputSchema,
  output: InspectClusterOutputSchema,
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
  description:
    'Every cluster this server knows (local, external and KubeRay), plus every RayCluster on the connected ' +
    'Kubernetes clusters (in one namespace, or all), with its status, oldest first. Untracked RayClusters can be ' +
    'named with cluster_id in the other tools.',
  input: ListClustersInputSchema,
  output: ListClustersOutputSchema,
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
    'Sets how many workers of one node type a local cluster has. Adding starts new worker nodes and waits until ' +
    'they joined; removing stops idle workers first and never the head. Resource options apply to new workers ' +
    '(default: like the existing ones of that type). On KubeRay: any worker group by name (worker_group): ' +
    'replicas (workers), min_replicas and max_replicas, or specific workers_to_delete (pod names); waits until ' +
    'the group has that many ready pods.',
  input: ScaleClusterInputSchema,
  output: ClusterViewSchema,
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
