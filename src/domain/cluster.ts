/**
 * Clusters as tools and machines see them: the spec a user asks for, and the compact view
 * every cluster tool returns. Shared by machines, actors and tools.
 */
import { z } from 'zod';
import { RayMcpError } from './errors.js';
import { ClusterIdSchema } from './ids.js';

export const CLUSTER_KINDS = ['local', 'external', 'kuberay'] as const;
export const CLUSTER_STATUSES = ['starting', 'running', 'degraded', 'failed', 'stopping', 'stopped'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

const RESERVED_RESOURCES = ['CPU', 'GPU', 'memory', 'object_store_memory'];
const MIN_OBJECT_STORE = 78_643_200; // 75 MiB: Ray refuses less

export { ClusterIdSchema };

export const NodeResourcesSchema = z
  .object({
    num_cpus: z.number().int().min(0).max(1024).optional(),
    num_gpus: z.number().int().min(0).max(64).optional(),
    memory: z.number().int().min(0).optional().describe('bytes'),
    object_store_memory: z
      .number()
      .int()
      .min(MIN_OBJECT_STORE, 'object_store_memory must be at least 78643200 bytes (75 MiB)')
      .optional()
      .describe('bytes, ≥ 75 MiB'),
    resources: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/, 'resource names are letters, digits, _ . : -'),
        z.number().min(0, 'resource amounts must be >= 0').max(1e9),
      )
      .refine((r) => !Object.keys(r).some((k) => RESERVED_RESOURCES.includes(k)), {
        message: `use num_cpus, num_gpus, memory and object_store_memory instead of ${RESERVED_RESOURCES.join(', ')} in resources`,
      })
      .optional()
      .describe('e.g. {"accelerator_type:A100": 1}'),
    labels: z
      .record(
        z
          .string()
          .regex(
            /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/,
            'label keys follow Kubernetes label syntax',
          ),
        z
          .string()
          .regex(
            /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/,
            'label values follow Kubernetes label syntax',
          ),
      )
      .refine((l) => !Object.keys(l).some((k) => k.startsWith('ray.io/') || k.startsWith('ray-mcp.io/')), {
        message: 'label keys under ray.io/ and ray-mcp.io/ are reserved',
      })
      .optional(),
  })
  .strict();
export type NodeResources = z.infer<typeof NodeResourcesSchema>;

export const NodeTypeSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,30}$/,
    'node types are lowercase letters, digits and dashes, starting with a letter',
  )
  .refine((t) => t !== 'head', 'the head is not a worker node type');

export const WorkerGroupSchema = NodeResourcesSchema.extend({
  node_type: NodeTypeSchema.optional().describe('default "worker"'),
  node_name: z.string().optional().describe('= node_type'),
  count: z.number().int().min(0).max(32).optional().describe('default 1'),
}).strict();
export type WorkerGroup = z.infer<typeof WorkerGroupSchema>;

export interface LocalClusterSpec {
  /** init_ray_cluster(protected=true): stop refuses until the server that owns it exits. */
  protected?: boolean;
  head: NodeResources;
  workers: { nodeType: string; count: number; resources: NodeResources }[];
}

export const NodeViewSchema = z.object({
  name: z.string().describe('head, or <node_type>-<n>'),
  node_type: z.string(),
  alive: z.boolean(),
  pid: z.number().optional(),
  node_id: z.string().optional(),
  address: z.string().optional(),
  resources_total: z.record(z.string(), z.number()).optional(),
  resources_available: z.record(z.string(), z.number()).optional(),
  exit: z.string().optional().describe('How the node process ended, if it did'),
  pod_phase: z.string().optional().describe('KubeRay: the pod phase'),
  reason: z
    .string()
    .optional()
    .describe('KubeRay: why the pod is not ready (Unschedulable, ImagePullBackOff, ...)'),
});
export type NodeView = z.infer<typeof NodeViewSchema>;

export const ClusterViewSchema = z.object({
  cluster_id: z.string(),
  kind: z.enum(CLUSTER_KINDS),
  status: z.enum(CLUSTER_STATUSES),
  owned: z
    .boolean()
    .describe('Created by this server (stop ends it) or not (stop only disconnects, unless asked)'),
  protected: z.boolean().optional().describe('stop refuses (ray-mcp/protected, or init with protected)'),
  dashboard_url: z.string().optional(),
  gcs_address: z.string().optional(),
  client_address: z.string().optional().describe('Ray Client address (ray://...)'),
  ray_version: z.string().optional(),
  session_name: z.string().optional(),
  created_at: z.string(),
  uptime_seconds: z.number().optional(),
  nodes: z.array(NodeViewSchema),
  error: z
    .object({
      message: z.string(),
      fix: z.string(),
      excerpt: z
        .string()
        .optional()
        .describe(
          "The node's last output: untrusted text from its log, bounded, control characters stripped",
        ),
      step: z.string().optional().describe('Local start: the readiness step that was not reached'),
      log_dir: z.string().optional().describe('Local: where its logs are kept until it is stopped'),
    })
    .optional()
    .describe('Why the cluster failed'),
  note: z.string().optional(),
  pending: z.boolean().optional().describe('The wait ended first; the same call again goes on waiting'),
  kubernetes: z
    .object({
      context: z.string(),
      connection: z.string(),
      namespace: z.string(),
      name: z.string().describe('The RayCluster'),
      state: z.string().optional(),
      desired_workers: z.number(),
      ready_workers: z.number(),
      head_service: z.string(),
      worker_groups: z.array(
        z.object({
          group_name: z.string(),
          replicas: z.number(),
          min_replicas: z.number(),
          max_replicas: z.number(),
          ready: z.number(),
        }),
      ),
      conditions: z.array(
        z.object({
          type: z.string(),
          status: z.string(),
          reason: z.string().optional(),
          message: z.string().optional(),
        }),
      ),
    })
    .optional()
    .describe('KubeRay clusters: where the RayCluster lives and its status'),
});
export type ClusterView = z.infer<typeof ClusterViewSchema>;

export function toLocalSpec(head: NodeResources, workers: WorkerGroup[] = []): LocalClusterSpec {
  const merged = new Map<string, { nodeType: string; count: number; resources: NodeResources }>();
  for (const w of workers) {
    const { node_type, node_name, count, ...resources } = w;
    const nodeType = node_type ?? (node_name ? slug(node_name) : 'worker');
    const prev = merged.get(nodeType);
    if (prev && JSON.stringify(prev.resources) !== JSON.stringify(resources)) {
      throw new RayMcpError(
        'invalid_input',
        `worker_nodes has two groups of node_type ${nodeType} with different resources.`,
        'Give each kind of worker its own node_type, or the same resources.',
      );
    }
    // Python ray-mcp listed one entry per worker: entries of one type add up.
    merged.set(nodeType, {
      nodeType,
      count: (prev?.count ?? 0) + (count ?? 1),
      resources: prev?.resources ?? resources,
    });
  }
  return { head, workers: [...merged.values()] };
}

function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 31)
    .replace(/-+$/, '');
  return s || 'worker';
}
