/** The zod schemas of the cloud tools (inputs and outputs), shared by the tools and their flows. */
import { z } from 'zod';
import {
  AwsRegionSchema,
  CLOUD_PROVIDERS,
  CloudClusterInfoSchema,
  CloudDetectionSchema,
  CloudIdentitySchema,
  CloudOperationSchema,
  CloudProviderSchema,
  GkeProjectSchema,
} from '../cloud.js';
import { ClusterSpecInputSchema } from '../cloud-create.js';
import { TEMPLATE_TYPES } from '../cloud-templates.js';
import { confirmationField, confirmTokenArg } from './confirm.js';

/** Any JSON value, and a JSON object: for bodies whose shape another API owns (one $defs entry per schema). */
export const JsonValueSchema = z.json();
export const JsonObjectSchema = z.record(z.string(), JsonValueSchema);
export type JsonObject = z.infer<typeof JsonObjectSchema>;

export const CLOUD_STATES = [
  'unconfigured',
  'authenticating',
  'authenticated',
  'failed',
  'disconnecting',
  'disconnected',
] as const;
export type CloudStateName = (typeof CLOUD_STATES)[number];
const StateSchema = z.enum(CLOUD_STATES).describe('Connection state of ray-mcp to this provider');
export const MAX_WAIT_SECONDS = 1800;

const providerArg = CloudProviderSchema;

// ---- detect_cloud_provider ----

export const DetectCloudInput = z.object({ provider: providerArg.optional() }).strict();
export const DetectCloudOutput = z.object({
  providers: z.array(CloudDetectionSchema.extend({ state: StateSchema })),
  recommended: z.enum(CLOUD_PROVIDERS).optional().describe('A usable provider, GKE first'),
});

// ---- authenticate_cloud_provider ----

export const AuthenticateCloudInput = z
  .object({
    provider: providerArg,
    project_id: GkeProjectSchema.optional().describe('GKE'),
    service_account_path: z.string().min(1).optional().describe('GKE: key JSON file'),
    profile: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/)
      .optional()
      .describe('EKS'),
    region: AwsRegionSchema.optional().describe('EKS'),
  })
  .strict();
export const AuthenticateCloudOutput = z.object({
  provider: z.enum(CLOUD_PROVIDERS),
  state: StateSchema,
  identity: CloudIdentitySchema,
  authenticated_at: z.string(),
});

// ---- get_cloud_provider_status ----

export const CloudStatusSchema = z.object({
  provider: z.enum(CLOUD_PROVIDERS),
  state: StateSchema,
  authenticated: z.boolean(),
  identity: CloudIdentitySchema.optional(),
  authenticated_at: z.string().optional(),
  error: z
    .object({
      message: z.string(),
      fix: z.string(),
      problem: z
        .enum(['missing', 'rejected'])
        .optional()
        .describe('missing: no credentials; rejected: invalid, expired or revoked'),
    })
    .optional()
    .describe('Why the credentials do not work (state failed)'),
  operations: z
    .array(CloudOperationSchema)
    .describe('Cluster creations this session started, newest first (at most 10)'),
});
export type CloudStatus = z.infer<typeof CloudStatusSchema>;

export const CloudStatusInput = z
  .object({
    provider: z.union([providerArg, z.literal('all')]).optional(),
  })
  .strict();
export const CloudStatusOutput = z.object({ providers: z.array(CloudStatusSchema) });

// ---- disconnect_cloud_provider ----

export const DisconnectCloudInput = z.object({ provider: providerArg }).strict();
export const DisconnectCloudOutput = z.object({
  provider: z.enum(CLOUD_PROVIDERS),
  state: StateSchema,
  was: StateSchema,
});

// ---- get_cloud_config_template ----

const TEMPLATE_ALIASES: Record<string, string> = {
  gcp: 'gke',
  aws: 'eks',
  kubernetes: 'kuberay',
  k8s: 'kuberay',
  local: 'kuberay',
};
const TYPE_ALIASES: Record<string, string> = {
  full: 'gpu',
  production: 'gpu',
  cluster: 'basic',
  authentication: 'basic',
  cpu: 'basic',
};

export const CloudTemplateInput = z
  .object({
    provider: z.preprocess(
      (v) => (typeof v === 'string' ? (TEMPLATE_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v),
      z.enum(['gke', 'eks', 'kuberay']),
    ),
    template_type: z
      .preprocess(
        (v) => (typeof v === 'string' ? (TYPE_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v),
        z.enum(TEMPLATE_TYPES),
      )
      .optional()
      .describe('default gpu'),
  })
  .strict();
export const CloudTemplateOutput = z.object({
  provider: z.enum(['gke', 'eks', 'kuberay']),
  template_type: z.enum(TEMPLATE_TYPES),
  tool: z.enum(['create_kubernetes_cluster', 'init_ray_cluster']),
  arguments: JsonObjectSchema.describe('Pass these (edited) to `tool`'),
  notes: z.array(z.string()),
  permissions: z.array(z.string()),
  setup: z.array(z.string()),
});

// ---- create_kubernetes_cluster, get_cloud_operation ----

const CostSchema = z.object({
  control_plane_per_hour: z.number(),
  nodes_per_hour: z.number().optional(),
  total_per_hour: z
    .number()
    .optional()
    .describe('USD per hour at the starting node counts; absent if a price is unknown'),
  gpus: z.number().int().describe('GPUs at the starting node counts'),
  note: z.string(),
});

export const OperationResultSchema = CloudOperationSchema.extend({
  ended: z.boolean(),
  waited_seconds: z.number(),
});
export type OperationResult = z.infer<typeof OperationResultSchema>;

export const CreateClusterInput = z
  .object({
    provider: providerArg,
    cluster_spec: ClusterSpecInputSchema,
    project_id: GkeProjectSchema.optional().describe('GKE'),
    dry_run: z.boolean().optional().describe('Validate only'),
    wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional().describe('default 0'),
    confirm_token: confirmTokenArg,
  })
  .strict();
export const CreateClusterOutput = z.object({
  dry_run: z.boolean(),
  provider: z.enum(CLOUD_PROVIDERS),
  cluster_name: z.string(),
  location: z.string(),
  project: z.string().optional(),
  outcome: z
    .enum(['planned', 'started', 'already_running', 'exists'])
    .describe('planned (dry run), started (new creation), already_running (a creation under way), exists'),
  name_check: z
    .enum(['available', 'exists_managed', 'not_checked'])
    .optional()
    .describe('Dry run: whether the name is free (not_checked when not authenticated)'),
  requests: z
    .object({ createCluster: JsonObjectSchema, createNodegroups: z.array(JsonObjectSchema).optional() })
    .optional()
    .describe('Dry run: the exact API request(s)'),
  operation: OperationResultSchema.optional(),
  cluster: CloudClusterInfoSchema.optional(),
  cost: CostSchema,
  next_step: z.string(),
  ...confirmationField,
});
export type CreateClusterResult = z.infer<typeof CreateClusterOutput>;

export const CloudOperationInput = z
  .object({
    operation_id: z
      .string()
      .regex(/^create:(gke|eks):[\w./-]+$/, 'an operation_id as create_kubernetes_cluster returns it'),
    wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional().describe('default 0'),
  })
  .strict();
