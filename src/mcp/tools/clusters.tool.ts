import { z } from 'zod';
import { isLocal } from '../../actors/cluster-records.js';
import {
  CLUSTER_KINDS,
  CLUSTER_STATUSES,
  ClusterIdSchema,
  ClusterViewSchema,
  NodeResourcesSchema,
  NodeTypeSchema,
  toLocalSpec,
  WorkerGroupSchema,
} from '../../domain/cluster.js';
import { RayMcpError } from '../../domain/errors.js';
import type { LocalClusterSnapshot } from '../../machines/local-cluster.machine.js';
import { clusterDetails, clusterView, currentCluster, resolveCluster } from './cluster-view.js';
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
    'arguments it starts a head with all CPUs. With `address` it connects to a cluster ray-mcp did not start ' +
    '(a dashboard URL like http://HOST:8265, or a GCS address HOST:6379); stopping that one only disconnects. ' +
    'Sends progress notifications when the client asks for them. On failure it returns the reason and the last ' +
    'lines the node printed, and leaves nothing running.',
  input: NodeResourcesSchema.extend({
    cluster_name: ClusterIdSchema.optional().describe(
      'Name (id) for the cluster (default local-N, or ext-N with address)',
    ),
    address: z.string().min(3).optional().describe('Connect to an existing cluster instead of starting one'),
    cluster_type: z
      .literal('local')
      .optional()
      .describe('Where to start it; "local" (this machine) is the default'),
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
      .describe('How long to wait for the cluster to be usable (default 120)'),
  }).strict(),
  output: ClusterViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, { system, signal, progress }) {
    const { cluster_name, address, cluster_type, worker_nodes, timeout_seconds, ...head } = args;
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
    'temp dir. For a cluster it connected to with an address, it only disconnects. Idempotent: stopping a stopped ' +
    'cluster succeeds.',
  input: z.object({ cluster_id: clusterIdArg }).strict(),
  output: ClusterViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler({ cluster_id }, { system, signal }) {
    const actor = resolveCluster(system, cluster_id);
    await system.ask(actor, { type: 'cluster.stop' }, { signal, timeoutMs: 90_000 });
    const view = clusterView(actor);
    return {
      structured: view,
      text: view.owned
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
    const actor = resolveCluster(system, cluster_id);
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
  description: 'Every cluster this server knows, local and external, with its status, oldest first.',
  input: z
    .object({ status: z.enum(CLUSTER_STATUSES).optional().describe('Only clusters with this status') })
    .strict(),
  output: z.object({
    clusters: z.array(
      z.object({
        cluster_id: z.string(),
        kind: z.enum(CLUSTER_KINDS),
        status: z.enum(CLUSTER_STATUSES),
        dashboard_url: z.string().optional(),
        ray_version: z.string().optional(),
        nodes_alive: z.number(),
        nodes_total: z.number(),
        created_at: z.string(),
      }),
    ),
    current: z.string().optional().describe('The cluster tools act on when none is named'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ status }, { system }) {
    const actors = system.clusters();
    const views = actors.map(clusterView);
    const current = currentCluster(actors)?.getSnapshot().context.id;
    const rows = views
      .filter((v) => !status || v.status === status)
      .map((v) => ({
        cluster_id: v.cluster_id,
        kind: v.kind,
        status: v.status,
        dashboard_url: v.dashboard_url,
        ray_version: v.ray_version,
        nodes_alive: v.nodes.filter((n) => n.alive).length,
        nodes_total: v.nodes.length,
        created_at: v.created_at,
      }));
    return {
      structured: { clusters: rows, current },
      text: rows.length
        ? rows.map((r) => `${r.cluster_id} (${r.kind}) ${r.status}`).join('; ')
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
    '(default: like the existing ones of that type).',
  input: NodeResourcesSchema.extend({
    cluster_id: clusterIdArg,
    node_type: NodeTypeSchema.optional().describe('Worker node type to scale (default "worker")'),
    workers: z
      .number()
      .int()
      .min(0)
      .max(32)
      .describe('How many workers of that type the cluster should have'),
  }).strict(),
  output: ClusterViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler({ cluster_id, node_type, workers, ...resources }, { system, signal }) {
    const actor = resolveCluster(system, cluster_id);
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

export const CLUSTER_TOOLS = [
  initRayCluster,
  stopRayCluster,
  inspectRayCluster,
  listRayClusters,
  scaleRayCluster,
];
