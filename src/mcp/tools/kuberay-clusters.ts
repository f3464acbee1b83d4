/** The KubeRay side of the cluster tools: start a RayCluster, find or attach one, list them. */
import { z } from 'zod';
import type { ClusterActor } from '../../actors/cluster-records.js';
import type { RaySystem } from '../../actors/system.js';
import { CLUSTER_KINDS, CLUSTER_STATUSES, type ClusterView } from '../../domain/cluster.js';
import { RayMcpError } from '../../domain/errors.js';
import {
  NamespaceSchema,
  PodResourcesSchema,
  ServiceTypeSchema,
  toKubeRaySpec,
  WorkerGroupSpecSchema,
} from '../../domain/kuberay.js';
import { kubeStatusOf } from '../../machines/kube-connection.machine.js';
import type { KubeRayClusterSnapshot } from '../../machines/kuberay-cluster.machine.js';
import { clusterView } from './cluster-view.js';
import { resolveConnection } from './kube-view.js';
import type { ToolContext } from './tool.js';

/** init_ray_cluster's arguments for a RayCluster on Kubernetes. */
export const kuberayInitArgs = {
  namespace: NamespaceSchema.optional().describe(
    "Kubernetes: the namespace (default: the context's namespace)",
  ),
  kubernetes_context: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Kubernetes: the connection/context to use (default: the current connection, else the kubeconfig's current context)",
    ),
  ray_version: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .optional()
    .describe(
      'Kubernetes: Ray version; picks the image rayproject/ray:<version>-py311[-gpu] (default 2.60.0)',
    ),
  image: z
    .string()
    .min(3)
    .max(300)
    .optional()
    .describe("Kubernetes: container image (overrides ray_version's)"),
  head_node_spec: PodResourcesSchema.optional().describe('Kubernetes: head pod resources'),
  worker_node_specs: z
    .array(WorkerGroupSpecSchema)
    .max(16)
    .optional()
    .describe('Kubernetes: worker groups, each with a group_name, replicas (min/max) and pod resources'),
  service_type: ServiceTypeSchema.optional().describe(
    'Kubernetes: head service type (default ClusterIP; LoadBalancer exposes the dashboard, only when asked)',
  ),
};

const KUBE_STEPS = ['creating the RayCluster', 'waiting for the head pod', 'waiting for the worker pods'];

function kubeStep(s: KubeRayClusterSnapshot): number {
  if (s.matches('init') || s.matches('applying')) return 1;
  const head = s.context.pods.find((p) => p.nodeType === 'head');
  return head?.ready ? 3 : 2;
}

export async function startKubeRayCluster(
  ctx: ToolContext,
  args: {
    cluster_name?: string;
    timeout_seconds?: number;
  } & { [K in keyof typeof kuberayInitArgs]?: z.output<(typeof kuberayInitArgs)[K]> },
): Promise<ClusterView> {
  const { system, signal, progress } = ctx;
  const conn = await resolveConnection(system, args.kubernetes_context, signal);
  const session = conn.getSnapshot().context.session!;
  if (!session.crdsInstalled) {
    throw new RayMcpError(
      'unavailable',
      `The KubeRay CRDs are not installed on ${session.context} (no ray.io/v1 RayCluster).`,
      'Install the KubeRay operator (helm install kuberay-operator kuberay/kuberay-operator), then connect again.',
    );
  }
  const namespace = args.namespace ?? session.namespace;
  const connectionId = conn.getSnapshot().context.id;
  await system.ask(conn, { type: 'kube.watchNamespace', namespace }, { signal });
  const name = args.cluster_name ?? nextName(system, conn.getSnapshot().context.rayClusters, namespace);
  const spec = toKubeRaySpec({
    name,
    namespace,
    ray_version: args.ray_version,
    image: args.image,
    head: args.head_node_spec,
    workers: args.worker_node_specs,
    service_type: args.service_type,
  });
  const timeoutMs = (args.timeout_seconds ?? 600) * 1000;
  const { data } = await system.askForAnswer(system.root, {
    type: 'cluster.create',
        at: Date.now(),
    id: name,
    kuberay: { connectionId, namespace, name, spec, owned: true, timeoutMs },
  });
  const actor = system.cluster(data.clusterId!)!;
  let step = 0;
  await system.ask(
    actor,
    { type: 'cluster.awaitReady' },
    {
      signal,
      timeoutMs: timeoutMs + 30_000,
      onSnapshot: (snapshot) => {
        const s = snapshot as KubeRayClusterSnapshot;
        if (!(s.matches('init') || s.matches('applying') || s.matches('starting'))) return;
        const n = kubeStep(s);
        if (n > step) {
          step = n;
          void progress(n, KUBE_STEPS.length + 1, KUBE_STEPS[n - 1]);
        }
      },
    },
  );
  await progress(KUBE_STEPS.length + 1, KUBE_STEPS.length + 1, 'cluster is ready');
  return clusterView(actor);
}

function nextName(system: RaySystem, existing: Record<string, unknown>, namespace: string): string {
  for (let n = 1; ; n++) {
    const name = `ray-${n}`;
    if (!system.cluster(name) && !existing[`${namespace}/${name}`]) return name;
  }
}

/**
 * The cluster actor for `id`; when there is none, a RayCluster of that name on a connected
 * Kubernetes cluster is attached (tracked, not owned unless ray-mcp's label is on it).
 */
export async function resolveOrAttach(
  system: RaySystem,
  id: string,
  signal: AbortSignal,
): Promise<ClusterActor | undefined> {
  const actor = system.cluster(id);
  // A stopped actor of that name gives way to the RayCluster, if one still exists.
  if (actor && clusterView(actor).status !== 'stopped') return actor;
  const found: { connectionId: string; namespace: string; name: string; managed: boolean }[] = [];
  for (const conn of system.kubeConnections()) {
    const c = conn.getSnapshot().context;
    for (const rc of Object.values(c.rayClusters)) {
      if (rc.name === id && !rc.rayJob)
        found.push({ connectionId: c.id, namespace: rc.namespace, name: rc.name, managed: rc.managedByUs });
    }
  }
  if (!found.length) return actor;
  if (found.length > 1) {
    throw new RayMcpError(
      'conflict',
      `Several RayClusters are named ${id}: ${found.map((f) => `${f.namespace}/${f.name} (${f.connectionId})`).join(', ')}.`,
      'ray-mcp tracks one cluster per name; disconnect the other Kubernetes connections (or rename a cluster), then try again.',
    );
  }
  const f = found[0]!;
  await system.askForAnswer(system.root, {
    type: 'cluster.create',
        at: Date.now(),
    id,
    kuberay: {
      connectionId: f.connectionId,
      namespace: f.namespace,
      name: f.name,
      owned: f.managed,
      timeoutMs: 120_000,
    },
  });
  void signal;
  return system.cluster(id);
}

export const KubeRayRowSchema = z.object({
  cluster_id: z.string(),
  kind: z.enum(CLUSTER_KINDS),
  status: z.enum(CLUSTER_STATUSES),
  dashboard_url: z.string().optional(),
  ray_version: z.string().optional(),
  nodes_alive: z.number(),
  nodes_total: z.number(),
  created_at: z.string(),
  namespace: z.string().optional().describe('KubeRay: the namespace'),
  context: z.string().optional().describe('KubeRay: the Kubernetes connection'),
  tracked: z
    .boolean()
    .optional()
    .describe('KubeRay: false for a RayCluster ray-mcp sees but does not track yet'),
  owned: z.boolean().optional().describe('Created by ray-mcp'),
});

/** RayClusters on connected Kubernetes clusters that no actor tracks (those are listed as clusters). */
export function untrackedKubeRayRows(
  system: RaySystem,
  namespace?: string,
): z.infer<typeof KubeRayRowSchema>[] {
  const tracked = new Set(
    system
      .clusters()
      .map((a) => a.getSnapshot().context as { connectionId?: string; namespace?: string; name?: string })
      .filter((c) => c.connectionId)
      .map((c) => `${c.connectionId}|${c.namespace}/${c.name}`),
  );
  const rows: z.infer<typeof KubeRayRowSchema>[] = [];
  for (const conn of system.kubeConnections()) {
    const s = conn.getSnapshot();
    if (!['connected', 'lost', 'reconnecting'].includes(kubeStatusOf(s))) continue;
    for (const rc of Object.values(s.context.rayClusters)) {
      if (namespace && rc.namespace !== namespace) continue;
      if (tracked.has(`${s.context.id}|${rc.namespace}/${rc.name}`)) continue;
      const pods = Object.values(s.context.pods).filter(
        (p) => p.namespace === rc.namespace && p.cluster === rc.name,
      );
      rows.push({
        cluster_id: rc.name,
        kind: 'kuberay',
        status: rc.deleting
          ? 'stopping'
          : rc.state === 'ready'
            ? 'running'
            : rc.state === 'suspended'
              ? 'stopped'
              : 'starting',
        ray_version: rc.rayVersion,
        nodes_alive: pods.filter((p) => p.ready && !p.deleting).length,
        nodes_total: pods.length,
        created_at: rc.createdAt ?? '',
        namespace: rc.namespace,
        context: s.context.id,
        tracked: false,
        owned: rc.managedByUs,
      });
    }
  }
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
}
