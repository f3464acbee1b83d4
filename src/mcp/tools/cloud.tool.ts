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
    'Which clouds (GKE, EKS) this machine has credentials for. Call before authenticate_cloud_provider.',
  input: DetectCloudInput,
  output: DetectCloudOutput,
  toolsets: ['cloud'],
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
  description: 'Authenticates to GKE or EKS, says as whom. Optional: cloud tools use default credentials.',
  input: AuthenticateCloudInput,
  output: AuthenticateCloudOutput,
  toolsets: ['cloud'],
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
    'Whether ray-mcp is authenticated to GKE and EKS, as whom or why not, and the creations it follows.',
  input: CloudStatusInput,
  output: CloudStatusOutput,
  toolsets: ['cloud'],
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
  description: "Forgets ray-mcp's GKE or EKS credentials; changes nothing in the cloud.",
  input: DisconnectCloudInput,
  output: DisconnectCloudOutput,
  toolsets: ['cloud'],
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
    'Example arguments for create_kubernetes_cluster (GKE, EKS) or init_ray_cluster (KubeRay), with notes.',
  input: CloudTemplateInput,
  output: CloudTemplateOutput,
  toolsets: ['cloud'],
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
    'Creates a GKE or EKS cluster (costs money; try dry_run first). Returns an operation for ' +
    'get_cloud_operation. Idempotent by name.',
  input: CreateClusterInput,
  output: CreateClusterOutput,
  toolsets: ['cloud'],
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
  description: "A cluster creation's status (operation_id); wait_seconds waits for its end.",
  input: CloudOperationInput,
  output: OperationResultSchema,
  toolsets: ['cloud'],
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
