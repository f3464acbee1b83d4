/**
 * Managed Kubernetes clouds (GKE, EKS) as tools, machines and actors see them: provider names
 * and aliases, the compact cluster views the tools return, creation specs and the operation
 * handle a creation returns. No I/O here.
 */
import { z } from 'zod';
import type { EksRequests } from './cloud-create.js';
import { type ErrorInfo, RayMcpError } from './errors.js';
import type { CloudKubeTarget, CloudProvider } from './kube.js';

export type { CloudProvider } from './kube.js';

export const CLOUD_PROVIDERS = ['gke', 'eks'] as const;

/** The label (GKE resourceLabels, EKS tags) on everything ray-mcp creates. */
export const MANAGED_BY_KEY = 'managed-by';
export const MANAGED_BY_VALUE = 'ray-mcp';

const ALIASES: Record<string, CloudProvider> = { gcp: 'gke', google: 'gke', aws: 'eks', amazon: 'eks' };

/** `gke` or `eks`; `gcp` and `aws` (as the Python ray-mcp took them) mean the same. */
export const CloudProviderSchema = z.preprocess(
  (v) => (typeof v === 'string' ? (ALIASES[v.trim().toLowerCase()] ?? v.trim().toLowerCase()) : v),
  z.enum(CLOUD_PROVIDERS, { error: 'provider must be gke (or gcp) or eks (or aws)' }),
);

export const GkeProjectSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'GCP project ids are 6-30 lowercase letters, digits and dashes');
/** A GKE zone (us-central1-a), region (us-central1), or `-` for all locations. */
export const GkeLocationSchema = z
  .string()
  .regex(/^(-|[a-z]+-[a-z]+\d+(-[a-z])?)$/, 'a GCP location looks like us-central1 or us-central1-a');
export const AwsRegionSchema = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'an AWS region looks like us-east-1');
/** Both clouds accept this shape: lowercase, digits, dashes, starting with a letter, 40 at most. */
export const CloudClusterNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/,
    'cluster names are 2-40 lowercase letters, digits and dashes, starting with a letter',
  );

export const GpuSchema = z.object({
  type: z
    .string()
    .describe('Accelerator type, e.g. nvidia-tesla-t4 (GKE) or the GPU of an instance type (EKS)'),
  count: z.number().int().describe('GPUs per node'),
});

export const NodePoolSchema = z.object({
  name: z.string(),
  status: z.string().optional(),
  machine_type: z.string().optional().describe('GKE machine type or the first EKS instance type'),
  node_count: z.number().int().optional().describe('Current (EKS desired, GKE initial) nodes'),
  autoscaling: z.object({ min: z.number().int(), max: z.number().int() }).optional(),
  gpus: z.array(GpuSchema).optional(),
  spot: z.boolean().optional(),
});
export type NodePool = z.infer<typeof NodePoolSchema>;

export const OPERATION_STATUSES = ['running', 'done', 'failed'] as const;

/** A creation ray-mcp started: the handle create_kubernetes_cluster returns. */
export const CloudOperationSchema = z.object({
  operation_id: z.string().describe('Handle to follow this operation with get_cloud_operation'),
  provider: z.enum(CLOUD_PROVIDERS),
  kind: z.enum(['create_cluster']),
  cluster_name: z.string(),
  location: z.string(),
  project: z.string().optional(),
  status: z.enum(OPERATION_STATUSES),
  detail: z.string().optional().describe('What the cloud reports now (cluster and node group states)'),
  started_at: z.string(),
  ended_at: z.string().optional(),
  error: z.string().optional(),
  polls: z.number().int().describe('Status checks made so far'),
});
export type CloudOperation = z.infer<typeof CloudOperationSchema>;

export const CloudClusterSummarySchema = z.object({
  provider: z.enum(CLOUD_PROVIDERS),
  name: z.string(),
  location: z.string().describe('GKE zone or region; EKS region'),
  project: z.string().optional(),
  status: z.string().describe('As the cloud says: RUNNING/PROVISIONING (GKE), ACTIVE/CREATING (EKS), ...'),
  ready: z.boolean().describe('Ready to connect (GKE RUNNING, EKS ACTIVE)'),
  version: z.string().optional(),
  node_count: z.number().int().optional(),
  managed_by_ray_mcp: z.boolean().describe('Created by ray-mcp (carries the managed-by: ray-mcp label)'),
  created_at: z.string().optional(),
});
export type CloudClusterSummary = z.infer<typeof CloudClusterSummarySchema>;

export const CloudClusterInfoSchema = CloudClusterSummarySchema.extend({
  status_message: z.string().optional(),
  endpoint: z.string().optional().describe('https URL of the Kubernetes API server'),
  node_pools: z.array(NodePoolSchema).describe('GKE node pools or EKS managed node groups'),
  node_pools_truncated: z.boolean().optional(),
  gpu_types: z.array(z.string()).describe('Every GPU type across the node pools'),
  labels: z.record(z.string(), z.string()).describe('GKE resource labels or EKS tags (at most 30)'),
  operation: CloudOperationSchema.optional().describe('The ray-mcp creation of this cluster, if any'),
});
export type CloudClusterInfo = z.infer<typeof CloudClusterInfoSchema>;

/** What detect_cloud_provider reports for one provider: kinds and names, never secrets. */
export const CloudDetectionSchema = z.object({
  provider: z.enum(CLOUD_PROVIDERS),
  usable: z.boolean().describe('Credentials were found (authenticate_cloud_provider should work)'),
  sources: z
    .array(z.object({ kind: z.string(), detail: z.string() }))
    .describe('Where credentials or settings were found'),
  project: z.string().optional(),
  region: z.string().optional(),
  profiles: z.array(z.string()).optional().describe('AWS profile names'),
  kube_contexts: z.array(z.string()).describe("Contexts in the user's kubeconfig that point at this cloud"),
  fix: z.string().optional(),
  checked_at: z.string(),
  took_ms: z.number(),
});
export type CloudDetection = z.infer<typeof CloudDetectionSchema>;

/** Where a cluster lives, as each provider addresses it. */
export interface CloudLocation {
  provider: CloudProvider;
  /** GKE zone/region (or `-` to list all); EKS region. */
  location: string;
  project?: string;
}

export interface NodePoolSpec {
  name: string;
  machine_type: string;
  node_count: number;
  min_nodes?: number;
  max_nodes?: number;
  gpu_type?: string;
  gpu_count?: number;
  disk_size_gb?: number;
  spot?: boolean;
}

/** A validated creation request, the same shape for both providers. */
export interface ClusterCreateSpec {
  provider: CloudProvider;
  name: string;
  location: string;
  project?: string;
  version?: string;
  node_pools: NodePoolSpec[];
  /** EKS only: IAM roles and subnets, which the cloud needs and ray-mcp does not create. */
  eks?: { role_arn: string; node_role_arn: string; subnet_ids: string[]; security_group_ids?: string[] };
  labels: Record<string, string>;
}

/** Credentials as the cloud actor keeps them: kinds and names, never secrets. */
export const CloudIdentitySchema = z.object({
  method: z
    .string()
    .describe('How ray-mcp authenticated, e.g. service_account_file, application_default, profile'),
  principal: z.string().optional().describe('Service account email or AWS ARN (no secret)'),
  project: z.string().optional(),
  region: z.string().optional(),
  profile: z.string().optional(),
  account: z.string().optional(),
});
export type CloudIdentity = z.infer<typeof CloudIdentitySchema>;

/** Cost hints every create and template result carries (list prices, USD, Nov 2025). */
export const COST_NOTE =
  'Each cluster control plane costs about $0.10 per hour (GKE: the free tier credit covers one zonal or Autopilot ' +
  'cluster; EKS extended-support versions $0.60/h). Nodes are billed on top by machine type, and GPU nodes cost ' +
  'much more (roughly $0.35-$4 per GPU-hour). Delete clusters you no longer use.';

/** Why credentials do not work: none found, or the cloud refused them (bad, expired, revoked). */
export type CredentialProblem = 'missing' | 'rejected';

/** A RayMcpError that means "these credentials do not work": the cloud actor moves to failed. */
export class CloudAuthError extends RayMcpError {
  readonly credentialProblem: CredentialProblem;

  constructor(problem: CredentialProblem, message: string, fix: string) {
    super('unauthenticated', message, fix);
    this.name = 'CloudAuthError';
    this.credentialProblem = problem;
  }
}

export function credentialProblemOf(err: unknown): CredentialProblem | undefined {
  return err instanceof CloudAuthError ? err.credentialProblem : undefined;
}

/** What a creation needs to be followed (and, for EKS, finished: node groups come after the cluster). */
export interface TrackedOperation {
  view: CloudOperation;
  /** GKE: the operation id to poll. */
  gkeOperation?: string;
  /** EKS: node groups to create once the cluster is ACTIVE. */
  eksNodegroups?: EksRequests['nodegroups'];
  /** The watcher child following it now. */
  watcherId?: string;
}

export type CloudResult =
  | {
      kind: 'list';
      clusters: CloudClusterSummary[];
      total: number;
      offset: number;
      project?: string;
      location: string;
    }
  | { kind: 'describe'; info: CloudClusterInfo }
  | { kind: 'target'; target: CloudKubeTarget; info: CloudClusterInfo }
  | {
      kind: 'create';
      /** The new or existing operation; absent when the cluster already existed and is ready. */
      operation?: TrackedOperation;
      /** `new`: creation started; `running`: one was under way; `exists`: the cluster was there. */
      outcome: 'new' | 'running' | 'exists';
      info?: CloudClusterInfo;
    }
  | { kind: 'kubeconfig'; path: string; context: string };

/** Facts from the operation watchers. */
export type CloudFact =
  | { type: 'cloud.operationProgress'; operationId: string; detail: string; polls: number }
  | {
      type: 'cloud.operationEnded';
      operationId: string;
      ok: boolean;
      detail?: string;
      error?: string;
      polls: number;
      /** When the watcher saw it end (ISO time). */
      endedAt: string;
    }
  | { type: 'cloud.operationPollFailed'; operationId: string; error: string; polls: number }
  | { type: 'cloud.credentialsRejected'; error: ErrorInfo }
  /** Follow again the operations that have no watcher (after one failed). */
  | { type: 'cloud.resumeOperations' };
