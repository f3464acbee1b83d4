import { z } from 'zod';
import {
  AwsRegionSchema,
  CLOUD_PROVIDERS,
  CloudClusterInfoSchema,
  CloudDetectionSchema,
  CloudIdentitySchema,
  CloudOperationSchema,
  type CloudProvider,
  CloudProviderSchema,
  COST_NOTE,
  GkeProjectSchema,
} from '../../domain/cloud.js';
import {
  ClusterSpecInputSchema,
  eksCreateRequests,
  estimateCost,
  gkeCreateRequest,
  toCreateSpec,
} from '../../domain/cloud-create.js';
import { cloudTemplate, TEMPLATE_TYPES } from '../../domain/cloud-templates.js';
import { RayMcpError } from '../../domain/errors.js';
import { cloudStateOf } from '../../machines/cloud-connection.machine.js';
import { askCloud, cloudActor, isAuthenticated } from './cloud-clusters.js';
import { defineTool, type ToolContext } from './tool.js';

const CLOUD_STATES = [
  'unconfigured',
  'authenticating',
  'authenticated',
  'failed',
  'disconnecting',
  'disconnected',
] as const;
const StateSchema = z.enum(CLOUD_STATES).describe('Connection state of ray-mcp to this provider');
const MAX_WAIT_SECONDS = 1800;

const providerArg = CloudProviderSchema.describe('gke (alias gcp) or eks (alias aws)');

export const detectCloudProvider = defineTool({
  name: 'detect_cloud_provider',
  title: 'Detect cloud providers',
  description:
    'Finds which managed-Kubernetes clouds this machine can use, without contacting them: GCP (GOOGLE_APPLICATION_CREDENTIALS, ' +
    'gcloud application default credentials and project) and AWS (access keys, profiles, web identity, region), plus ' +
    'kubeconfig contexts that point at GKE or EKS clusters. Only when nothing else is found does it ask the ' +
    "cloud's metadata server, with a short timeout. Kinds and names only, never secrets. Call it before " +
    'authenticate_cloud_provider.',
  input: z
    .object({ provider: providerArg.optional().describe('Only this provider (default: both)') })
    .strict(),
  output: z.object({
    providers: z.array(CloudDetectionSchema.extend({ state: StateSchema })),
    recommended: z.enum(CLOUD_PROVIDERS).optional().describe('A usable provider, GKE first'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ provider }, { system, signal }) {
    const wanted = provider ? [provider] : [...CLOUD_PROVIDERS];
    const providers = await Promise.all(
      wanted.map(async (p) => {
        const snapshot = await system.ask(cloudActor(system, p), { type: 'cloud.detect' }, { signal });
        return { ...snapshot.context.detection!, state: cloudStateOf(snapshot) };
      }),
    );
    const recommended = providers.find((p) => p.usable)?.provider;
    const text = providers
      .map(
        (p) =>
          `${p.provider}: ${p.usable ? `credentials found (${p.sources.map((s) => s.kind).join(', ')})` : 'no credentials'}` +
          `${p.project ? `, project ${p.project}` : ''}${p.region ? `, region ${p.region}` : ''}` +
          `${p.kube_contexts.length ? `, ${p.kube_contexts.length} kubeconfig context(s)` : ''}`,
      )
      .join('; ');
    return { structured: { providers, recommended }, text: `${text}.` };
  },
});

export const authenticateCloudProvider = defineTool({
  name: 'authenticate_cloud_provider',
  title: 'Authenticate to a cloud',
  description:
    'Connects ray-mcp to GKE or EKS and checks the credentials work. GKE: application default credentials, or ' +
    'service_account_path (a key JSON file); project_id picks the project (default: from the credentials or ' +
    'GOOGLE_CLOUD_PROJECT). EKS: the AWS default credential chain, or a named profile; region (default AWS_REGION or ' +
    "the profile's). Returns who is authenticated (account, service account or ARN), never a secret. Other cloud " +
    'tools authenticate with the defaults by themselves when this was not called.',
  input: z
    .object({
      provider: providerArg,
      project_id: GkeProjectSchema.optional().describe('GKE: GCP project id'),
      service_account_path: z
        .string()
        .min(1)
        .optional()
        .describe('GKE: path of a service-account key JSON file'),
      profile: z
        .string()
        .regex(/^[\w+=,.@-]{1,64}$/)
        .optional()
        .describe('EKS: AWS profile name'),
      region: AwsRegionSchema.optional().describe('EKS: AWS region, e.g. us-east-1'),
    })
    .strict(),
  output: z.object({
    provider: z.enum(CLOUD_PROVIDERS),
    state: StateSchema,
    identity: CloudIdentitySchema,
    authenticated_at: z.string(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { system, signal }) {
    const { provider } = args;
    if (provider === 'gke' && (args.profile || args.region)) {
      throw new RayMcpError(
        'invalid_input',
        'profile and region are for EKS.',
        'For GKE pass project_id and optionally service_account_path.',
      );
    }
    if (provider === 'eks' && (args.project_id || args.service_account_path)) {
      throw new RayMcpError(
        'invalid_input',
        'project_id and service_account_path are for GKE.',
        'For EKS pass region and optionally profile.',
      );
    }
    const snapshot = await system.ask(
      cloudActor(system, provider),
      {
        type: 'cloud.authenticate',
        options: {
          projectId: args.project_id,
          serviceAccountPath: args.service_account_path,
          profile: args.profile,
          region: args.region,
        },
      },
      { signal },
    );
    const { identity, authenticatedAt } = snapshot.context;
    const who = [
      identity!.principal,
      identity!.project && `project ${identity!.project}`,
      identity!.region && `region ${identity!.region}`,
    ]
      .filter(Boolean)
      .join(', ');
    return {
      structured: {
        provider,
        state: cloudStateOf(snapshot),
        identity: identity!,
        authenticated_at: authenticatedAt!,
      },
      text: `Authenticated to ${provider.toUpperCase()} with ${identity!.method}${who ? ` (${who})` : ''}.`,
    };
  },
});

const StatusSchema = z.object({
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

function statusOf(system: ToolContext['system'], provider: CloudProvider): z.infer<typeof StatusSchema> {
  const snapshot = cloudActor(system, provider).getSnapshot();
  const c = snapshot.context;
  const state = cloudStateOf(snapshot);
  return {
    provider,
    state,
    authenticated: state === 'authenticated',
    identity: c.identity,
    authenticated_at: c.authenticatedAt,
    error:
      state === 'failed' && c.error
        ? { message: c.error.message, fix: c.error.fix, problem: c.error.problem }
        : undefined,
    operations: Object.values(c.operations)
      .map((o) => o.view)
      .sort((a, b) => b.started_at.localeCompare(a.started_at))
      .slice(0, 10),
  };
}

export const getCloudProviderStatus = defineTool({
  name: 'get_cloud_provider_status',
  title: 'Cloud connection status',
  description:
    'Whether ray-mcp is authenticated to GKE and EKS, as whom, why not (missing, invalid or expired credentials, ' +
    'with the fix), and the cluster creations it follows. Works with nothing configured: it then reports ' +
    '"unconfigured". Reads ray-mcp state only; contacts no cloud.',
  input: z
    .object({
      provider: z
        .union([providerArg, z.literal('all')])
        .optional()
        .describe('gke, eks or all (default all)'),
    })
    .strict(),
  output: z.object({ providers: z.array(StatusSchema) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ provider }, { system }) {
    const wanted = provider && provider !== 'all' ? [provider] : [...CLOUD_PROVIDERS];
    const providers = wanted.map((p) => statusOf(system, p));
    const text = providers
      .map(
        (p) =>
          `${p.provider}: ${p.state}${p.identity?.principal ? ` as ${p.identity.principal}` : ''}${p.error ? ` (${p.error.message})` : ''}`,
      )
      .join('; ');
    return { structured: { providers }, text: `${text}.` };
  },
});

export const disconnectCloudProvider = defineTool({
  name: 'disconnect_cloud_provider',
  title: 'Disconnect from a cloud',
  description:
    'Forgets the credentials ray-mcp holds for GKE or EKS, the tokens minted from them and the creations it was ' +
    'following (they go on in the cloud). Kubernetes connections made through this provider stop authenticating. ' +
    'Changes nothing in the cloud. Idempotent.',
  input: z.object({ provider: providerArg }).strict(),
  output: z.object({ provider: z.enum(CLOUD_PROVIDERS), state: StateSchema, was: StateSchema }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ provider }, { system, signal }) {
    const actor = cloudActor(system, provider);
    const was = cloudStateOf(actor.getSnapshot());
    const snapshot = await system.ask(actor, { type: 'cloud.disconnect' }, { signal });
    return {
      structured: { provider, state: cloudStateOf(snapshot), was },
      text:
        was === 'unconfigured' || was === 'disconnected'
          ? `${provider.toUpperCase()} was not connected; nothing to forget.`
          : `Disconnected from ${provider.toUpperCase()}: credentials and tokens forgotten.`,
    };
  },
});

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

export const getCloudConfigTemplate = defineTool({
  name: 'get_cloud_config_template',
  title: 'Cluster template',
  description:
    'A working starting point: the arguments for create_kubernetes_cluster on GKE or EKS (a CPU node pool, and with ' +
    'template_type "gpu" a GPU pool that scales from zero), or for init_ray_cluster on Kubernetes (KubeRay head and ' +
    'worker groups). Each comes with what to replace, what it costs, the permissions and the setup steps. Change ' +
    'the names, then call the tool it names (create_kubernetes_cluster starts with dry_run: true).',
  input: z
    .object({
      provider: z
        .preprocess(
          (v) => (typeof v === 'string' ? (TEMPLATE_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v),
          z.enum(['gke', 'eks', 'kuberay']),
        )
        .describe('gke (gcp), eks (aws) or kuberay (kubernetes)'),
      template_type: z
        .preprocess(
          (v) => (typeof v === 'string' ? (TYPE_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v),
          z.enum(TEMPLATE_TYPES),
        )
        .optional()
        .describe('basic (CPU only) or gpu (CPU and GPU pools; default)'),
    })
    .strict(),
  output: z.object({
    provider: z.enum(['gke', 'eks', 'kuberay']),
    template_type: z.enum(TEMPLATE_TYPES),
    tool: z.enum(['create_kubernetes_cluster', 'init_ray_cluster']),
    arguments: z.record(z.string(), z.unknown()).describe('Pass these (edited) to `tool`'),
    notes: z.array(z.string()),
    permissions: z.array(z.string()),
    setup: z.array(z.string()),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ provider, template_type }) {
    const t = cloudTemplate(provider, template_type ?? 'gpu');
    return {
      structured: t,
      text: `${t.provider} ${t.template_type} template: arguments for ${t.tool}; replace the placeholders (see notes).`,
    };
  },
});

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

const OperationResultSchema = CloudOperationSchema.extend({
  ended: z.boolean(),
  waited_seconds: z.number(),
});

/** Waits for an operation to end (or the time to run out), with progress notifications. */
async function waitForOperation(
  ctx: ToolContext,
  provider: CloudProvider,
  operationId: string,
  seconds: number,
) {
  const actor = cloudActor(ctx.system, provider);
  const view = () => actor.getSnapshot().context.operations[operationId]?.view;
  const started = Date.now();
  let ended = view() !== undefined && view()!.status !== 'running';
  if (!ended && seconds > 0) {
    const tell = () => {
      const v = view();
      const s = Math.round((Date.now() - started) / 1000);
      if (v) void ctx.progress(s, seconds, `${v.status}: ${v.detail ?? ''} (waited ${s} s)`);
    };
    tell();
    const heartbeat = setInterval(tell, 5000);
    try {
      await ctx.system.ask(
        actor,
        { type: 'cloud.awaitOperation', operationId },
        { signal: ctx.signal, timeoutMs: seconds * 1000, onSnapshot: tell },
      );
      ended = true;
    } catch (err) {
      if (!(err instanceof RayMcpError && err.code === 'timeout') || ctx.signal.aborted) throw err;
    } finally {
      clearInterval(heartbeat);
    }
  }
  const v = view();
  if (!v) {
    throw new RayMcpError(
      'not_found',
      `No operation ${operationId} in this ray-mcp session.`,
      'Operations are kept until disconnect or restart; get_kubernetes_cluster_info shows the cluster status.',
    );
  }
  return {
    ...v,
    ended: v.status !== 'running',
    waited_seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

function operationText(v: z.infer<typeof OperationResultSchema>): string {
  if (v.status === 'done') return `Cluster ${v.cluster_name} is created (${v.detail ?? 'done'}).`;
  if (v.status === 'failed')
    return `Creating ${v.cluster_name} failed: ${v.error ?? v.detail ?? 'unknown error'}`;
  return `Creating ${v.cluster_name}: ${v.detail ?? 'running'}; call get_cloud_operation(operation_id="${v.operation_id}", wait_seconds=600) to follow it.`;
}

export const createKubernetesCluster = defineTool({
  name: 'create_kubernetes_cluster',
  title: 'Create a GKE or EKS cluster',
  description:
    'Creates a managed Kubernetes cluster, which costs money: about $0.10/h for the control plane plus the nodes ' +
    '(GPU nodes much more); the result estimates it. Start with dry_run: true: it validates and returns the exact ' +
    'API requests, changing nothing. Without it the tool returns at once with an operation handle (creation takes ' +
    '5-20 minutes); get_cloud_operation (wait_seconds, with progress notifications) or get_kubernetes_cluster_info ' +
    'follow it, or pass wait_seconds here. Idempotent by name: a cluster ray-mcp created with that name is returned, ' +
    'one it did not create is refused. Everything gets the label managed-by: ray-mcp. GKE: project_id and zone (or ' +
    'region); EKS: region, role_arn, node_role_arn and subnet_ids (ray-mcp creates no IAM roles, VPCs or load ' +
    'balancers). get_cloud_config_template gives a working example.',
  input: z
    .object({
      provider: providerArg,
      cluster_spec: ClusterSpecInputSchema,
      project_id: GkeProjectSchema.optional().describe('GKE project (also accepted inside cluster_spec)'),
      dry_run: z
        .boolean()
        .optional()
        .describe('Validate and show what would be created; change nothing (default false)'),
      wait_seconds: z
        .number()
        .int()
        .min(0)
        .max(MAX_WAIT_SECONDS)
        .optional()
        .describe('Wait this long for the creation, with progress notifications (default 0: return at once)'),
    })
    .strict(),
  output: z.object({
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
    requests: z.record(z.string(), z.unknown()).optional().describe('Dry run: the exact API request(s)'),
    operation: OperationResultSchema.optional(),
    cluster: CloudClusterInfoSchema.optional(),
    cost: CostSchema,
    next_step: z.string(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx) {
    const { provider, dry_run, wait_seconds } = args;
    const { system, config } = ctx;
    const specInput = { ...args.cluster_spec, project_id: args.cluster_spec.project_id ?? args.project_id };
    const authenticated = isAuthenticated(system, provider);
    if (!dry_run && !authenticated) {
      // The defaults (project, region) come from the credentials: authenticate first.
      await system.ask(
        cloudActor(system, provider),
        { type: 'cloud.authenticate', options: {} },
        { signal: ctx.signal },
      );
    }
    const identity = cloudActor(system, provider).getSnapshot().context.identity;
    const spec = toCreateSpec(provider, specInput, {
      project: identity?.project ?? config.gcp.project,
      region: identity?.region ?? config.aws.region,
    });
    const cost = estimateCost(spec);
    const costText =
      cost.total_per_hour !== undefined ? `about $${cost.total_per_hour}/h` : 'about $0.10/h plus the nodes';
    const base = { provider, cluster_name: spec.name, location: spec.location, project: spec.project, cost };

    if (dry_run) {
      let name_check: 'available' | 'exists_managed' | 'not_checked' = 'not_checked';
      let cluster: z.infer<typeof CloudClusterInfoSchema> | undefined;
      if (authenticated) {
        try {
          const r = await askCloud(
            ctx,
            provider,
            {
              type: 'cloud.describe',
              where: { project: spec.project, location: spec.location },
              name: spec.name,
            },
            'describe',
          );
          cluster = r.info;
          if (!cluster.managed_by_ray_mcp) {
            throw new RayMcpError(
              'conflict',
              `A cluster named ${spec.name} already exists in ${spec.project ? `${spec.project}/` : ''}${spec.location} and was not created by ray-mcp.`,
              'Pick another name. To use that cluster, connect to it with connect_kubernetes_cluster instead.',
            );
          }
          name_check = 'exists_managed';
        } catch (err) {
          if (!(err instanceof RayMcpError && err.code === 'not_found')) throw err;
          name_check = 'available';
        }
      }
      const requests =
        provider === 'gke'
          ? { createCluster: gkeCreateRequest(spec) }
          : (() => {
              const r = eksCreateRequests(spec);
              return { createCluster: r.cluster, createNodegroups: r.nodegroups };
            })();
      return {
        structured: {
          ...base,
          dry_run: true,
          outcome: 'planned' as const,
          name_check,
          requests,
          cluster,
          next_step:
            name_check === 'exists_managed'
              ? 'The cluster exists (created by ray-mcp); creating it again returns it.'
              : 'Call create_kubernetes_cluster again with dry_run: false to create it.',
        },
        text: `Dry run: would create ${provider.toUpperCase()} cluster ${spec.name} in ${spec.location} with ${spec.node_pools.length} node pool(s), ${costText} (${COST_NOTE.split('.')[0]}). Nothing was created.`,
      };
    }

    const r = await askCloud(ctx, provider, { type: 'cloud.create', spec }, 'create');
    const opId = r.operation?.view.operation_id;
    const operation = opId ? await waitForOperation(ctx, provider, opId, wait_seconds ?? 0) : undefined;
    const outcome = (
      r.outcome === 'new' ? 'started' : r.outcome === 'running' ? 'already_running' : 'exists'
    ) as 'started' | 'already_running' | 'exists';
    const next_step =
      operation?.status === 'running'
        ? `get_cloud_operation(operation_id="${operation.operation_id}", wait_seconds=600) follows the creation; then connect_kubernetes_cluster.`
        : operation?.status === 'failed'
          ? 'Fix the cause (see operation.error), then create it again (a failed cluster may need deleting in the console first).'
          : 'connect_kubernetes_cluster connects to it.';
    const text =
      outcome === 'exists' && !operation
        ? `Cluster ${spec.name} already exists (created by ray-mcp, ${r.info?.status}); nothing created.`
        : `${outcome === 'started' ? 'Started creating' : outcome === 'already_running' ? 'Already creating' : 'Following'} ${provider.toUpperCase()} cluster ${spec.name} in ${spec.location}: ${operation ? operationText(operation) : ''} Cost: ${costText} while it exists.`;
    return {
      structured: { ...base, dry_run: false, outcome, operation, cluster: r.info, next_step },
      text,
    };
  },
});

export const getCloudOperation = defineTool({
  name: 'get_cloud_operation',
  title: 'Follow a cluster creation',
  description:
    'The status of a cluster creation create_kubernetes_cluster started (its operation_id): running, done or failed, ' +
    'with what the cloud reports (cluster and node pool states) and the error if it failed. With wait_seconds it ' +
    'waits until the creation ends or the time is up, sending progress notifications; a timeout is not an error ' +
    '(ended: false). Call it again to keep waiting.',
  input: z
    .object({
      operation_id: z
        .string()
        .regex(/^create:(gke|eks):[\w./-]+$/, 'an operation_id as create_kubernetes_cluster returns it'),
      wait_seconds: z
        .number()
        .int()
        .min(0)
        .max(MAX_WAIT_SECONDS)
        .optional()
        .describe('Longest wait (default 0)'),
    })
    .strict(),
  output: OperationResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ operation_id, wait_seconds }, ctx) {
    const provider = operation_id.split(':')[1] as CloudProvider;
    const v = await waitForOperation(ctx, provider, operation_id, wait_seconds ?? 0);
    return { structured: v, text: operationText(v) };
  },
});

export const CLOUD_TOOLS = [
  detectCloudProvider,
  authenticateCloudProvider,
  getCloudProviderStatus,
  disconnectCloudProvider,
  getCloudConfigTemplate,
  createKubernetesCluster,
  getCloudOperation,
];
