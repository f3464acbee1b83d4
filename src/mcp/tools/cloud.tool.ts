import { COST_NOTE } from '../../domain/cloud.js';
import { cloudTemplate } from '../../domain/cloud-templates.js';
import {
  AuthenticateCloudInput,
  AuthenticateCloudOutput,
  CloudOperationInput,
  CloudStatusInput,
  CloudStatusOutput,
  CloudTemplateInput,
  CloudTemplateOutput,
  CreateClusterInput,
  CreateClusterOutput,
  DetectCloudInput,
  DetectCloudOutput,
  DisconnectCloudInput,
  DisconnectCloudOutput,
  type OperationResult,
  OperationResultSchema,
} from '../../domain/tools/cloud.js';
import { defineTool } from './tool.js';

/** What a wait may take beyond its wait_seconds (the steps before it, the answer). */
const WAIT_MARGIN_MS = 30_000;
const waitOptions = (seconds: number | undefined) =>
  seconds ? { timeoutMs: seconds * 1000 + WAIT_MARGIN_MS } : {};

export const detectCloudProvider = defineTool({
  name: 'detect_cloud_provider',
  title: 'Detect cloud providers',
  description:
    'Finds which managed-Kubernetes clouds this machine can use, without contacting them: GCP (GOOGLE_APPLICATION_CREDENTIALS, ' +
    'gcloud application default credentials and project) and AWS (access keys, profiles, web identity, region), plus ' +
    'kubeconfig contexts that point at GKE or EKS clusters. Only when nothing else is found does it ask the ' +
    "cloud's metadata server, with a short timeout. Kinds and names only, never secrets. Call it before " +
    'authenticate_cloud_provider.',
  input: DetectCloudInput,
  output: DetectCloudOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const r = await run('cloud.detect', args);
    const text = r.providers
      .map(
        (p) =>
          `${p.provider}: ${p.usable ? `credentials found (${p.sources.map((s) => s.kind).join(', ')})` : 'no credentials'}` +
          `${p.project ? `, project ${p.project}` : ''}${p.region ? `, region ${p.region}` : ''}` +
          `${p.kube_contexts.length ? `, ${p.kube_contexts.length} kubeconfig context(s)` : ''}`,
      )
      .join('; ');
    return { structured: r, text: `${text}.` };
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
  input: AuthenticateCloudInput,
  output: AuthenticateCloudOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const r = await run('cloud.authenticate', args);
    const { identity } = r;
    const who = [
      identity.principal,
      identity.project && `project ${identity.project}`,
      identity.region && `region ${identity.region}`,
    ]
      .filter(Boolean)
      .join(', ');
    return {
      structured: r,
      text: `Authenticated to ${r.provider.toUpperCase()} with ${identity.method}${who ? ` (${who})` : ''}.`,
    };
  },
});

export const getCloudProviderStatus = defineTool({
  name: 'get_cloud_provider_status',
  title: 'Cloud connection status',
  description:
    'Whether ray-mcp is authenticated to GKE and EKS, as whom, why not (missing, invalid or expired credentials, ' +
    'with the fix), and the cluster creations it follows. Works with nothing configured: it then reports ' +
    '"unconfigured". Reads ray-mcp state only; contacts no cloud.',
  input: CloudStatusInput,
  output: CloudStatusOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const r = await run('cloud.status', args);
    const text = r.providers
      .map(
        (p) =>
          `${p.provider}: ${p.state}${p.identity?.principal ? ` as ${p.identity.principal}` : ''}${p.error ? ` (${p.error.message})` : ''}`,
      )
      .join('; ');
    return { structured: r, text: `${text}.` };
  },
});

export const disconnectCloudProvider = defineTool({
  name: 'disconnect_cloud_provider',
  title: 'Disconnect from a cloud',
  description:
    'Forgets the credentials ray-mcp holds for GKE or EKS, the tokens minted from them and the creations it was ' +
    'following (they go on in the cloud). Kubernetes connections made through this provider stop authenticating. ' +
    'Changes nothing in the cloud. Idempotent.',
  input: DisconnectCloudInput,
  output: DisconnectCloudOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const r = await run('cloud.disconnect', args);
    const name = r.provider.toUpperCase();
    return {
      structured: r,
      text:
        r.was === 'unconfigured' || r.was === 'disconnected'
          ? `${name} was not connected; nothing to forget.`
          : `Disconnected from ${name}: credentials and tokens forgotten.`,
    };
  },
});

export const getCloudConfigTemplate = defineTool({
  name: 'get_cloud_config_template',
  title: 'Cluster template',
  description:
    'A working starting point: the arguments for create_kubernetes_cluster on GKE or EKS (a CPU node pool, and with ' +
    'template_type "gpu" a GPU pool that scales from zero), or for init_ray_cluster on Kubernetes (KubeRay head and ' +
    'worker groups). Each comes with what to replace, what it costs, the permissions and the setup steps. Change ' +
    'the names, then call the tool it names (create_kubernetes_cluster starts with dry_run: true).',
  input: CloudTemplateInput,
  output: CloudTemplateOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ provider, template_type }) {
    // Pure: no actor involved.
    const t = cloudTemplate(provider, template_type ?? 'gpu');
    return {
      structured: t,
      text: `${t.provider} ${t.template_type} template: arguments for ${t.tool}; replace the placeholders (see notes).`,
    };
  },
});

const costText = (c: { total_per_hour?: number }) =>
  c.total_per_hour !== undefined ? `about $${c.total_per_hour}/h` : 'about $0.10/h plus the nodes';

function operationText(v: OperationResult): string {
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
  input: CreateClusterInput,
  output: CreateClusterOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  confirm: {
    guards: false,
    async preview(args, { run }) {
      if (args.dry_run) return undefined;
      const { result: r, node_pools } = await run('cloud.createCluster', {
        ...args,
        dry_run: true,
        wait_seconds: undefined,
      });
      if (r.name_check === 'exists_managed') return undefined; // returns the existing one; nothing billed anew
      return {
        structured: r,
        action: `Create ${r.provider.toUpperCase()} cluster ${r.cluster_name} in ${r.location} with ${node_pools} node pool(s)`,
        cost: costText(r.cost),
        risky: true,
        state: [r.provider, r.cluster_name, r.location, r.project, r.cost, r.name_check],
      };
    },
  },
  async handler(args, { run }) {
    const { result: r, node_pools } = await run('cloud.createCluster', args, waitOptions(args.wait_seconds));
    const provider = r.provider.toUpperCase();
    const cost = costText(r.cost);
    if (r.dry_run) {
      return {
        structured: r,
        text: `Dry run: would create ${provider} cluster ${r.cluster_name} in ${r.location} with ${node_pools} node pool(s), ${cost} (${COST_NOTE.split('.')[0]}). Nothing was created.`,
      };
    }
    const op = r.operation;
    const doing =
      r.outcome === 'started'
        ? 'Started creating'
        : r.outcome === 'already_running'
          ? 'Already creating'
          : 'Following';
    const text =
      r.outcome === 'exists' && !op
        ? `Cluster ${r.cluster_name} already exists (created by ray-mcp, ${r.cluster?.status}); nothing created.`
        : `${doing} ${provider} cluster ${r.cluster_name} in ${r.location}: ${op ? operationText(op) : ''} Cost: ${cost} while it exists.`;
    return { structured: r, text };
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
  input: CloudOperationInput,
  output: OperationResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const v = await run('cloud.operation', args, waitOptions(args.wait_seconds));
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
