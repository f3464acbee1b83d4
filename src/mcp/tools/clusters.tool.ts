import { z } from 'zod';
import { isKubeRay, isLocal } from '../../actors/cluster-records.js';
import type { RaySystem } from '../../actors/system.js';
import {
  CLUSTER_STATUSES,
  ClusterIdSchema,
  ClusterViewSchema,
  NodeResourcesSchema,
  NodeTypeSchema,
  toLocalSpec,
  WorkerGroupSchema,
} from '../../domain/cluster.js';
import { RayMcpError } from '../../domain/errors.js';
import type { KubeRayClusterActor } from '../../machines/kuberay-cluster.machine.js';
import type { LocalClusterSnapshot } from '../../machines/local-cluster.machine.js';
import { clusterDetails, clusterView, currentCluster, resolveCluster } from './cluster-view.js';
import {
  KubeRayRowSchema,
  kuberayInitArgs,
  resolveOrAttach,
  startKubeRayCluster,
  untrackedKubeRayRows,
} from './kuberay-clusters.js';
import { defineTool } from './tool.js';

const clusterIdArg = ClusterIdSchema.optional().describe(
  'The cluster to act on (default: the newest one not stopped)',
);

const DetailsSchema = z.object({
  usage: z
    .record(z.string(), z.object({ used: z.number(), total: z.number() }))
    .describe('Cluster-wide resource use'),
  jobs: z.record(z.string(), z.number()).describe('Job counts by status'),
  fetched_at: z.string(),
});

/** Steps of a local start, for progress notifications. */
const START_STEPS: [string, string][] = [
  ['preparing', 'reserving ports and a temp dir'],
  ['launchingHead', 'starting the head node'],
  ['launchingWorkers', 'starting worker nodes'],
];

function startProgress(snapshot: LocalClusterSnapshot): [number, string] | undefined {
  for (const [i, [state, message]] of START_STEPS.entries()) {
    if (snapshot.matches({ starting: state } as never)) return [i + 1, message];
  }
  return undefined;
}

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
  input: NodeResourcesSchema.extend({
    cluster_name: ClusterIdSchema.optional().describe(
      'Name (id) for the cluster (default local-N, or ext-N with address)',
    ),
    address: z.string().min(3).optional().describe('Connect to an existing cluster instead of starting one'),
    cluster_type: z
      .enum(['local', 'kubernetes', 'k8s', 'kuberay'])
      .optional()
      .describe(
        'Where to start it: "local" (this machine, the default) or "kubernetes" (a RayCluster through KubeRay)',
      ),
    ...kuberayInitArgs,
    worker_nodes: z
      .array(WorkerGroupSchema)
      .max(8)
      .optional()
      .describe('Worker node groups: each has a node_type, a count and resources (default: no workers)'),
    timeout_seconds: z
      .number()
      .int()
      .min(10)
      .max(1800)
      .optional()
      .describe('How long to wait for the cluster to be usable (default 120; 600 on Kubernetes)'),
  }).strict(),
  output: ClusterViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx) {
    const { system, signal, progress } = ctx;
    const {
      cluster_name,
      address,
      cluster_type,
      worker_nodes,
      timeout_seconds,
      namespace,
      kubernetes_context,
      ray_version,
      image,
      head_node_spec,
      worker_node_specs,
      service_type,
      ...head
    } = args;
    const kubeArgs = {
      namespace,
      kubernetes_context,
      ray_version,
      image,
      head_node_spec,
      worker_node_specs,
      service_type,
    };
    const kubeGiven = Object.entries(kubeArgs)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    const onKube = cluster_type !== undefined && cluster_type !== 'local';
    if (onKube) {
      if (address || worker_nodes || Object.keys(head).length) {
        throw new RayMcpError(
          'invalid_input',
          `On Kubernetes, ${[address && 'address', worker_nodes && 'worker_nodes', ...Object.keys(head)].filter(Boolean).join(', ')} do not apply.`,
          'Give pod resources in head_node_spec and worker groups in worker_node_specs ({group_name, replicas, num_cpus, memory, num_gpus}).',
        );
      }
      const view = await startKubeRayCluster(ctx, { cluster_name, timeout_seconds, ...kubeArgs });
      const k = view.kubernetes!;
      return {
        structured: view,
        text:
          `Started RayCluster ${k.namespace}/${k.name} on ${k.context}: head + ${k.ready_workers} worker(s) ready` +
          ` (Ray ${view.ray_version}). Dashboard via the API server proxy: ${view.dashboard_url}.`,
      };
    }
    if (kubeGiven.length) {
      throw new RayMcpError(
        'invalid_input',
        `${kubeGiven.join(', ')} only apply to clusters on Kubernetes.`,
        'Add cluster_type="kubernetes", or drop them to start a local cluster.',
      );
    }
    const supervisor = system.root;
    if (address) {
      if (Object.keys(head).length || worker_nodes) {
        throw new RayMcpError(
          'invalid_input',
          'address connects to a running cluster; resource options only apply to clusters ray-mcp starts.',
          'Drop num_cpus, worker_nodes and the other resource options, or drop address to start a new cluster.',
        );
      }
      const { data } = await system.askForAnswer(supervisor, {
        type: 'cluster.create',
        at: Date.now(),
        id: cluster_name,
        external: { address },
      });
      const actor = system.cluster(data.clusterId!)!;
      await system.ask(actor, { type: 'cluster.awaitReady' }, { signal, timeoutMs: 60_000 });
      const view = clusterView(actor);
      return {
        structured: view,
        text: `Connected to Ray ${view.ray_version} at ${view.dashboard_url} as ${view.cluster_id} (external: stop only disconnects).`,
      };
    }
    const timeoutMs = (timeout_seconds ?? 120) * 1000;
    const spec = toLocalSpec(head, worker_nodes);
    const { data } = await system.askForAnswer(supervisor, {
      type: 'cluster.create',
        at: Date.now(),
      id: cluster_name,
      local: { spec, timeoutMs },
    });
    const actor = system.cluster(data.clusterId!)!;
    let step = 0;
    try {
      await system.ask(
        actor,
        { type: 'cluster.awaitReady' },
        {
          signal,
          timeoutMs: timeoutMs + 30_000,
          onSnapshot: (snapshot) => {
            const p = isLocal(actor) ? startProgress(snapshot as LocalClusterSnapshot) : undefined;
            if (p && p[0] > step) {
              step = p[0];
              void progress(step, START_STEPS.length + 1, p[1]);
            }
          },
        },
      );
    } catch (err) {
      const view = clusterView(actor);
      if (err instanceof RayMcpError && view.error?.excerpt) {
        throw new RayMcpError(
          err.code,
          `${err.message}\nLast output of the node:\n${view.error.excerpt}`,
          `${err.fix} Nothing of cluster ${view.cluster_id} is left running; stop_ray_cluster forgets it.`,
        );
      }
      throw err;
    }
    await progress(START_STEPS.length + 1, START_STEPS.length + 1, 'cluster is usable');
    const view = clusterView(actor);
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
  input: z.object({ cluster_id: clusterIdArg }).strict(),
  output: ClusterViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async handler({ cluster_id }, { system, signal }) {
    const actor =
      (cluster_id && (await resolveOrAttach(system, cluster_id, signal))) ||
      resolveCluster(system, cluster_id);
    const kube = isKubeRay(actor);
    await system.ask(
      actor,
      kube ? { type: 'cluster.stop', delete: cluster_id !== undefined } : { type: 'cluster.stop' },
      { signal, timeoutMs: kube ? 180_000 : 90_000 },
    );
    const view = clusterView(actor);
    const k = view.kubernetes;
    const deleted = kube && (view.owned || cluster_id !== undefined);
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
    'URL, Ray version and uptime of one cluster; for a failed cluster, why it failed.',
  input: z.object({ cluster_id: clusterIdArg }).strict(),
  output: ClusterViewSchema.extend({ details: DetailsSchema.optional() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ cluster_id }, { system, signal }) {
    const actor =
      (cluster_id && (await resolveOrAttach(system, cluster_id, signal))) ||
      resolveCluster(system, cluster_id);
    await system.ask(actor, { type: 'cluster.describe' }, { signal, timeoutMs: 30_000 });
    const view = clusterView(actor);
    const details = clusterDetails(actor);
    const alive = view.nodes.filter((n) => n.alive).length;
    const cpu = details?.usage.CPU;
    return {
      structured: { ...view, details },
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
  description:
    'Every cluster this server knows (local, external and KubeRay), plus every RayCluster on the connected ' +
    'Kubernetes clusters (in one namespace, or all), with its status, oldest first. Untracked RayClusters can be ' +
    'named with cluster_id in the other tools.',
  input: z
    .object({
      status: z.enum(CLUSTER_STATUSES).optional().describe('Only clusters with this status'),
      namespace: z.string().min(1).optional().describe('KubeRay: only this namespace (default: all watched)'),
    })
    .strict(),
  output: z.object({
    clusters: z.array(KubeRayRowSchema),
    current: z.string().optional().describe('The cluster tools act on when none is named'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ status, namespace }, { system }) {
    const actors = system.clusters();
    const views = actors.map(clusterView);
    const current = currentCluster(actors)?.getSnapshot().context.id;
    const rows = views
      .filter((v) => !status || v.status === status)
      .filter((v) => !namespace || v.kubernetes?.namespace === namespace)
      .map(
        (v): z.infer<typeof KubeRayRowSchema> => ({
          cluster_id: v.cluster_id,
          kind: v.kind,
          status: v.status,
          dashboard_url: v.dashboard_url,
          ray_version: v.ray_version,
          nodes_alive: v.nodes.filter((n) => n.alive).length,
          nodes_total: v.nodes.length,
          created_at: v.created_at,
          ...(v.kubernetes && {
            namespace: v.kubernetes.namespace,
            context: v.kubernetes.context,
            tracked: true,
            owned: v.owned,
          }),
        }),
      )
      .concat(untrackedKubeRayRows(system, namespace).filter((r) => !status || r.status === status))
      .slice(0, 200);
    return {
      structured: { clusters: rows, current },
      text: rows.length
        ? rows
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
  input: NodeResourcesSchema.extend({
    cluster_id: clusterIdArg,
    node_type: NodeTypeSchema.optional().describe('Worker node type to scale (default "worker")'),
    workers: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .describe('How many workers of that type (KubeRay: replicas of that group) the cluster should have'),
    worker_group: z.string().min(1).optional().describe('KubeRay: the worker group (default: the only one)'),
    min_replicas: z.number().int().min(0).max(1000).optional().describe('KubeRay: autoscaler lower bound'),
    max_replicas: z.number().int().min(0).max(1000).optional().describe('KubeRay: autoscaler upper bound'),
    workers_to_delete: z
      .array(z.string().min(1))
      .max(100)
      .optional()
      .describe(
        'KubeRay: pod names of workers to remove (replicas drops by as many unless workers is given)',
      ),
  }).strict(),
  output: ClusterViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async handler(args, { system, signal }) {
    const {
      cluster_id,
      node_type,
      workers,
      worker_group,
      min_replicas,
      max_replicas,
      workers_to_delete,
      ...resources
    } = args;
    const actor =
      (cluster_id && (await resolveOrAttach(system, cluster_id, signal))) ||
      resolveCluster(system, cluster_id);
    if (isKubeRay(actor)) return scaleKubeRay(system, actor, args, signal);
    if (worker_group || min_replicas !== undefined || max_replicas !== undefined || workers_to_delete) {
      throw new RayMcpError(
        'invalid_input',
        'worker_group, min_replicas, max_replicas and workers_to_delete apply to KubeRay clusters only.',
        'Use node_type and workers for local clusters.',
      );
    }
    if (workers === undefined) {
      throw new RayMcpError(
        'invalid_input',
        'How many workers? workers is missing.',
        'Pass workers (the count the node type should have).',
      );
    }
    if (!isLocal(actor)) {
      throw new RayMcpError(
        'invalid_input',
        `${actor.getSnapshot().context.id} is an external cluster; ray-mcp can only scale clusters it started.`,
        'Scale it where it was started, or start a local cluster with init_ray_cluster.',
      );
    }
    const nodeType = node_type ?? 'worker';
    await system.ask(
      actor,
      {
        type: 'cluster.scale',
        nodeType,
        workers,
        resources: Object.keys(resources).length ? resources : undefined,
      },
      { signal, timeoutMs: 180_000 },
    );
    const view = clusterView(actor);
    const count = view.nodes.filter((n) => n.node_type === nodeType && n.alive).length;
    return {
      structured: view,
      text: `${view.cluster_id} now has ${count} worker(s) of type ${nodeType} alive.`,
    };
  },
});

async function scaleKubeRay(
  system: RaySystem,
  actor: KubeRayClusterActor,
  args: {
    workers?: number;
    node_type?: string;
    worker_group?: string;
    min_replicas?: number;
    max_replicas?: number;
    workers_to_delete?: string[];
  } & Record<string, unknown>,
  signal: AbortSignal,
) {
  const c = actor.getSnapshot().context;
  const local = ['num_cpus', 'num_gpus', 'memory', 'object_store_memory', 'resources', 'labels'].filter(
    (k) => args[k] !== undefined,
  );
  if (local.length) {
    throw new RayMcpError(
      'invalid_input',
      `${local.join(', ')} cannot change on a running KubeRay worker group.`,
      'Scale with workers/min_replicas/max_replicas; to change pod resources, start a cluster with the new worker_node_specs.',
    );
  }
  const groups = c.cr?.groups ?? [];
  const group = args.worker_group ?? args.node_type ?? (groups.length === 1 ? groups[0]!.name : undefined);
  if (!group || !groups.some((g) => g.name === group)) {
    throw new RayMcpError(
      'invalid_input',
      group
        ? `RayCluster ${c.namespace}/${c.name} has no worker group ${group}.`
        : `RayCluster ${c.namespace}/${c.name} has several worker groups; which one?`,
      `Pass worker_group: one of ${groups.map((g) => g.name).join(', ') || '(none: the cluster has no worker groups)'}.`,
    );
  }
  if (
    args.workers === undefined &&
    args.min_replicas === undefined &&
    args.max_replicas === undefined &&
    !args.workers_to_delete
  ) {
    throw new RayMcpError(
      'invalid_input',
      'Nothing to change.',
      'Pass workers, min_replicas, max_replicas or workers_to_delete.',
    );
  }
  const g = groups.find((x) => x.name === group)!;
  const replicas = args.workers ?? (args.workers_to_delete ? undefined : g.replicas);
  const min = args.min_replicas ?? g.minReplicas;
  const max = args.max_replicas ?? g.maxReplicas;
  const after = replicas ?? Math.max(0, g.replicas - (args.workers_to_delete?.length ?? 0));
  if (after < min || after > max) {
    throw new RayMcpError(
      'invalid_input',
      `Worker group ${group}: ${after} replicas would lie outside min_replicas ${min} .. max_replicas ${max}.`,
      'Change min_replicas/max_replicas along with workers.',
    );
  }
  const known = new Set(c.pods.filter((p) => p.group === group).map((p) => p.name));
  const unknown = (args.workers_to_delete ?? []).filter((n) => !known.has(n));
  if (unknown.length) {
    throw new RayMcpError(
      'invalid_input',
      `Not workers of group ${group}: ${unknown.join(', ')}.`,
      `Its pods: ${[...known].join(', ') || '(none)'} (inspect_ray_cluster lists them).`,
    );
  }
  await system.ask(
    actor,
    {
      type: 'cluster.scale',
      scale: {
        group,
        replicas,
        minReplicas: args.min_replicas,
        maxReplicas: args.max_replicas,
        workersToDelete: args.workers_to_delete,
      },
    },
    { signal, timeoutMs: 200_000 },
  );
  const view = clusterView(actor);
  const wg = view.kubernetes?.worker_groups.find((x) => x.group_name === group);
  return {
    structured: view,
    text: `${view.cluster_id}: worker group ${group} has ${wg?.ready ?? 0}/${wg?.replicas ?? 0} ready (min ${wg?.min_replicas}, max ${wg?.max_replicas}).`,
  };
}

export const CLUSTER_TOOLS = [
  initRayCluster,
  stopRayCluster,
  inspectRayCluster,
  listRayClusters,
  scaleRayCluster,
];
