/** The zod schemas of the cluster tools (inputs and outputs), shared by the tools and their flows. */
import { z } from 'zod';
import {
  CLUSTER_KINDS,
  CLUSTER_STATUSES,
  ClusterIdSchema,
  ClusterViewSchema,
  NodeResourcesSchema,
  NodeTypeSchema,
  WorkerGroupSchema,
} from '../cluster.js';
import { KubeEventsSchema } from '../kube-events.js';
import { NamespaceSchema, PodResourcesSchema, ServiceTypeSchema, WorkerGroupSpecSchema } from '../kuberay.js';
import { confirmationField, confirmTokenArg } from './confirm.js';

export const clusterIdArg = ClusterIdSchema.optional().describe('default: current');

/** init_ray_cluster's arguments for a RayCluster on Kubernetes. */
export const kuberayInitArgs = {
  namespace: NamespaceSchema.optional(),
  kubernetes_context: z.string().min(1).optional(),
  ray_version: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .optional(),
  image: z.string().min(3).max(300).optional(),
  head_node_spec: PodResourcesSchema.optional(),
  worker_node_specs: z.array(WorkerGroupSpecSchema).max(16).optional(),
  service_type: ServiceTypeSchema.optional().describe('Kubernetes: LoadBalancer only when asked'),
};

/**
 * Whether `address` is one ray-mcp can connect to: a dashboard URL (http(s)://HOST[:PORT]) or a
 * GCS address (HOST:PORT). Anything else is refused before a cluster entry exists.
 */
export function isRayAddress(address: string): boolean {
  const a = address.trim();
  if (a.length > 300 || /\s/.test(a) || [...a].some((c) => c.charCodeAt(0) < 0x20)) return false;
  const gcs = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(a);
  if (gcs) return Number(gcs[2]) >= 1 && Number(gcs[2]) <= 65535;
  if (!/^https?:\/\//i.test(a)) return false;
  try {
    const url = new URL(a);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)$/i.test(url.hostname) &&
      !url.username &&
      !url.password
    );
  } catch {
    return false;
  }
}

export const InitClusterInputSchema = NodeResourcesSchema.extend({
  cluster_name: ClusterIdSchema.optional().describe('its id'),
  address: z
    .string()
    .min(3)
    .refine(isRayAddress, {
      error: (issue) =>
        /^ray:\/\//i.test(String(issue.input))
          ? 'this is a Ray Client address; ray-mcp talks to the dashboard: pass http://HOST:8265 or the GCS address HOST:6379'
          : 'address must be a dashboard URL (http://HOST:8265) or a GCS address (HOST:6379)',
    })
    .optional()
    .describe('Connect: http://HOST:8265 or HOST:6379'),
  cluster_type: z.enum(['local', 'kubernetes', 'k8s', 'kuberay']).optional().describe('default local'),
  ...kuberayInitArgs,
  worker_nodes: z.array(WorkerGroupSchema).max(8).optional().describe('Local workers'),
  protected: z.boolean().optional().describe('Local: stop refuses it'),
  timeout_seconds: z.number().int().min(10).max(1800).optional().describe('default 120 (K8s 600)'),
}).strict();
export type InitClusterInput = z.infer<typeof InitClusterInputSchema>;

export const ClusterIdInputSchema = z.object({ cluster_id: clusterIdArg }).strict();
export const StopClusterInputSchema = z
  .object({ cluster_id: clusterIdArg, confirm_token: confirmTokenArg })
  .strict();
/** stop and scale: the cluster, or (nothing done yet) its current state and what needs confirming. */
export const ClusterChangeOutputSchema = ClusterViewSchema.extend(confirmationField);

export const ListClustersInputSchema = z
  .object({
    status: z.enum(CLUSTER_STATUSES).optional(),
    namespace: z.string().min(1).optional().describe('KubeRay'),
  })
  .strict();
export type ListClustersInput = z.infer<typeof ListClustersInputSchema>;

export const ScaleClusterInputSchema = NodeResourcesSchema.extend({
  cluster_id: clusterIdArg,
  node_type: NodeTypeSchema.optional().describe('default "worker"'),
  workers: z.number().int().min(0).max(1000).optional().describe('Target count'),
  worker_group: z.string().min(1).optional().describe('KubeRay'),
  min_replicas: z.number().int().min(0).max(1000).optional().describe('KubeRay'),
  max_replicas: z.number().int().min(0).max(1000).optional().describe('KubeRay'),
  workers_to_delete: z.array(z.string().min(1)).max(100).optional().describe('KubeRay pods'),
  confirm_token: confirmTokenArg,
}).strict();
export type ScaleClusterInput = z.infer<typeof ScaleClusterInputSchema>;

export const DetailsSchema = z.object({
  usage: z
    .record(z.string(), z.object({ used: z.number(), total: z.number() }))
    .describe('Cluster-wide resource use'),
  jobs: z.record(z.string(), z.number()).describe('Job counts by status'),
  fetched_at: z.string(),
});

export const InspectClusterOutputSchema = ClusterViewSchema.extend({
  details: DetailsSchema.optional(),
  events: KubeEventsSchema.optional(),
});
export type InspectClusterOutput = z.infer<typeof InspectClusterOutputSchema>;

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

export type KubeRayRow = z.infer<typeof KubeRayRowSchema>;

export const ListClustersOutputSchema = z.object({
  clusters: z.array(KubeRayRowSchema),
  current: z.string().optional().describe('The cluster tools act on when none is named'),
});
export type ListClustersOutput = z.infer<typeof ListClustersOutputSchema>;
