/** The zod schemas of the Ray Serve tools (inputs and outputs), shared by the tools and their flows. */
import { z } from 'zod';
import { ClusterIdSchema } from '../cluster.js';
import { RuntimeEnvSchema } from '../jobs.js';
import { KubeEventsSchema } from '../kube-events.js';
import { NamespaceSchema, PlainPodResourcesSchema, WorkerGroupSpecSchema } from '../kuberay.js';
import type { RayServiceSummary } from '../rayservice.js';
import { confirmationField, confirmTokenArg } from './confirm.js';

/** Optional: the current local cluster. */
const clusterIdArg = ClusterIdSchema.optional();

/** Where a Serve tool acts: a local cluster (default), or KubeRay RayServices (cluster_type, or namespace/context given). */
const kubeTarget = {
  cluster_type: z.enum(['local', 'kubernetes', 'k8s', 'kuberay']).optional(),
  namespace: NamespaceSchema.optional(),
  kubernetes_context: z.string().min(1).optional(),
};
export type ServeTargetArgs = { cluster_type?: string; namespace?: string; kubernetes_context?: string };

/** The Serve tools mean KubeRay: cluster_type says so, or (no cluster_type) a namespace or context is given. */
export function isKubeServe(args: ServeTargetArgs): boolean {
  if (args.cluster_type) return ['kubernetes', 'k8s', 'kuberay'].includes(args.cluster_type);
  return args.namespace !== undefined || args.kubernetes_context !== undefined;
}

export const ServeAppNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, _ . - (at most 63)');

const resource = z.number().min(0);

const DeploymentConfigSchema = z
  .object({
    name: z.string().min(1).max(100).describe('Class or function name, unless renamed'),
    num_replicas: z.number().int().min(0).max(100).optional(),
    autoscaling: z
      .object({
        min_replicas: z.number().int().min(0),
        max_replicas: z.number().int().min(1),
        target_ongoing_requests: z.number().positive().optional(),
      })
      .strict()
      .optional()
      .describe('Instead of num_replicas'),
    num_cpus: resource.optional().describe('Per replica'),
    num_gpus: resource.optional(),
    memory: resource.optional().describe('Bytes per replica'),
    resources: z.record(z.string(), resource).optional(),
    max_ongoing_requests: z.number().int().min(1).optional(),
  })
  .strict();
export type DeploymentConfigInput = z.infer<typeof DeploymentConfigSchema>;

export const DeployServeInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    name: ServeAppNameSchema.default('default'),
    import_path: z
      .string()
      .regex(/^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$/, 'module:attribute, e.g. app:app')
      .describe('module:app, app = X.bind()'),
    route_prefix: z
      .string()
      .regex(/^\/[\w\-./]*$/, 'starts with /')
      .optional()
      .describe('Default /<name>'),
    runtime_env: RuntimeEnvSchema.optional(),
    deployments: z.array(DeploymentConfigSchema).max(20).optional().describe('Per-deployment overrides'),
    wait_seconds: z.number().int().min(0).max(300).optional().describe('default 45'),
    ...kubeTarget,
    // The RayService's cluster, as init_ray_cluster's KubeRay arguments.
    ray_version: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/)
      .optional(),
    image: z.string().min(3).max(300).optional(),
    head_node_spec: PlainPodResourcesSchema.optional(),
    worker_node_specs: z.array(WorkerGroupSpecSchema).max(16).optional(),
    dry_run: z.boolean().optional().describe('KubeRay: the diff only'),
  })
  .strict();
export type DeployServeInput = z.infer<typeof DeployServeInputSchema>;

export const ListServeInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    name: ServeAppNameSchema.optional(),
    ...kubeTarget,
  })
  .strict();
export type ListServeInput = z.infer<typeof ListServeInputSchema>;

export const DeleteServeInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    name: ServeAppNameSchema.describe('The application'),
    ...kubeTarget,
    confirm_token: confirmTokenArg,
  })
  .strict();
export type DeleteServeInput = z.infer<typeof DeleteServeInputSchema>;

const ServeDeploymentSchema = z.object({
  name: z.string(),
  status: z.string(),
  message: z.string().optional(),
  target_replicas: z.number().optional(),
  replicas: z.record(z.string(), z.number()).describe('Replicas by state'),
  autoscaling: z.boolean(),
});

export const ServeAppSchema = z.object({
  name: z.string(),
  status: z.string().describe('NOT_STARTED, DEPLOYING, RUNNING, DEPLOY_FAILED, UNHEALTHY, DELETING'),
  message: z.string().optional().describe("Ray's message (untrusted, bounded)"),
  route_prefix: z.string().optional(),
  url: z.string().optional(),
  import_path: z.string().optional(),
  deployed_at: z.string().optional(),
  deployments: z.array(ServeDeploymentSchema),
  healthy: z.boolean(),
});

export const rayServiceUri = (context: string, namespace: string, name: string) =>
  `ray://kubernetes/${encodeURIComponent(context)}/namespaces/${namespace}/rayservices/${name}`;

export const RayServiceViewSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  context: z.string(),
  owned: z.boolean().describe('Created by ray-mcp'),
  protected: z.boolean().optional(),
  state: z.string().describe('Initializing, Ready, NotReady, Upgrading, Unhealthy, Deleting'),
  ready: z.boolean(),
  upgrade_in_progress: z.boolean().describe('A pending cluster is being prepared to replace the active one'),
  active_cluster: z.string().optional(),
  pending_cluster: z.string().optional(),
  apps: z
    .array(
      z.object({
        name: z.string(),
        cluster: z.enum(['active', 'pending']),
        status: z.string(),
        message: z.string().optional().describe("KubeRay's (untrusted)"),
        deployments: z.record(z.string(), z.string()).describe('Deployment → status'),
      }),
    )
    .describe('Serve application statuses, as KubeRay reports them'),
  serve_endpoints: z.number(),
  created_at: z.string().optional(),
  deleting: z.boolean(),
  conditions: z
    .array(
      z.object({
        type: z.string(),
        status: z.string(),
        reason: z.string().optional(),
        message: z.string().optional(),
      }),
    )
    .optional(),
  events: KubeEventsSchema.optional(),
  events_note: z.string().optional(),
  uri: z.string().describe('Resource to read or subscribe to'),
});
export type RayServiceView = z.infer<typeof RayServiceViewSchema>;

/** A RayService summary as the Serve tools show it. */
export function rayServiceView(
  s: RayServiceSummary,
  context: string,
  state: string,
  full = false,
): RayServiceView {
  const apps = [
    ...s.active.apps.map((a) => ({ ...a, cluster: 'active' as const })),
    ...s.pending.apps.map((a) => ({ ...a, cluster: 'pending' as const })),
  ].map(({ name, cluster, status, message, deployments }) => ({
    name,
    cluster,
    status,
    message,
    deployments,
  }));
  return {
    name: s.name,
    namespace: s.namespace,
    context,
    owned: s.managedByUs,
    protected: s.protected || undefined,
    state,
    ready: s.ready,
    upgrade_in_progress: s.upgradeInProgress,
    active_cluster: s.active.cluster,
    pending_cluster: s.pending.cluster,
    apps,
    serve_endpoints: s.serveEndpoints,
    created_at: s.createdAt,
    deleting: s.deleting,
    conditions: full ? s.conditions : undefined,
    uri: rayServiceUri(context, s.namespace, s.name),
  };
}

export const DeployServeOutputSchema = z.object({
  cluster_id: z.string().optional().describe('Local; KubeRay: the active cluster'),
  app: ServeAppSchema.optional(),
  ready: z.boolean().describe('Running and healthy'),
  failed: z.boolean(),
  waited_seconds: z.number(),
  rayservice: RayServiceViewSchema.optional(),
  created: z.boolean().optional(),
  changed: z.boolean().optional().describe('False: it already was as asked; nothing was sent'),
  dry_run: z.boolean().optional(),
  diff: z
    .array(z.object({ path: z.string(), before: z.string().optional(), after: z.string().optional() }))
    .optional()
    .describe('What the apply changes (dry run: would change)'),
});
export type DeployServeOutput = z.infer<typeof DeployServeOutputSchema>;

export const ListServeOutputSchema = z.object({
  cluster_id: z.string().optional(),
  running: z.boolean().describe('Serve runs on the cluster'),
  proxy_url: z.string().optional(),
  apps: z.array(ServeAppSchema),
  context: z.string().optional(),
  namespace: z.string().optional(),
  rayservices: z.array(RayServiceViewSchema).optional(),
});
export type ListServeOutput = z.infer<typeof ListServeOutputSchema>;

export const DeleteServeOutputSchema = z.object({
  cluster_id: z.string().optional(),
  name: z.string(),
  deleted: z.boolean().describe('False: there was no such application'),
  serve_stopped: z.boolean().describe('It was the last application: Serve was shut down, its port freed'),
  remaining: z.array(z.string()),
  rayservice: RayServiceViewSchema.optional(),
  ...confirmationField,
});
export type DeleteServeOutput = z.infer<typeof DeleteServeOutputSchema>;

export { rayServiceSignature } from '../signatures.js';
