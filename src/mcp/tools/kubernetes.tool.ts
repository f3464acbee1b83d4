import { z } from 'zod';
import {
  CloudClusterInfoSchema,
  CloudClusterSummarySchema,
  CloudProviderSchema,
} from '../../domain/cloud.js';
import { RayMcpError } from '../../domain/errors.js';
import {
  cloudKubeTarget,
  describeCloudCluster,
  listCloudClusters,
  writeKubeconfigContext,
} from './cloud-clusters.js';
import {
  ConnectionViewSchema,
  connectionView,
  connectTarget,
  currentConnection,
  currentKubeContext,
} from './kube-view.js';
import { defineTool } from './tool.js';

/** kubeconfig (the user's contexts), or a managed cloud. `local`/`kubernetes`/`k8s` mean kubeconfig. */
const ProviderSchema = z.preprocess(
  (v) =>
    typeof v === 'string' && ['local', 'kubernetes', 'k8s', 'kubeconfig'].includes(v.trim().toLowerCase())
      ? 'kubeconfig'
      : v,
  z.union([z.literal('kubeconfig'), CloudProviderSchema], {
    error: 'provider must be kubeconfig, gke (gcp) or eks (aws)',
  }),
);

const cloudWhere = {
  project_id: z.string().optional().describe('GKE: the GCP project (default: from the credentials)'),
  zone: z.string().optional().describe('GKE: zone or region of the cluster'),
  region: z.string().optional().describe('EKS: AWS region; GKE: region'),
  location: z.string().optional().describe('Same as zone/region'),
};

export const listKubernetesClusters = defineTool({
  name: 'list_kubernetes_clusters',
  title: 'List Kubernetes clusters',
  description:
    'With provider "kubeconfig" (the default): the contexts of the kubeconfig files (KUBECONFIG, several files ' +
    'merged as kubectl does), the current one, and which ray-mcp is connected to. With provider "gke" or "eks": the ' +
    'clusters of a GCP project and location ("-" for all) or of an AWS region.',
  input: z
    .object({ provider: ProviderSchema.optional(), ...cloudWhere, cursor: z.string().optional() })
    .strict(),
  output: z.object({
    provider: z.string(),
    contexts: z
      .array(
        z.object({
          name: z.string(),
          cluster: z.string(),
          namespace: z.string().optional(),
          current: z.boolean(),
          connection: z.string().optional().describe("Status of ray-mcp's connection to it, if any"),
        }),
      )
      .optional(),
    current_context: z.string().optional(),
    clusters: z.array(CloudClusterSummarySchema).optional(),
    project: z.string().optional(),
    location: z.string().optional(),
    next_cursor: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx) {
    const provider = args.provider ?? 'kubeconfig';
    if (provider !== 'kubeconfig') {
      const res = await listCloudClusters(ctx, { ...args, provider });
      return {
        structured: { provider, ...res },
        text: res.clusters.length
          ? `${res.clusters.length} ${provider.toUpperCase()} cluster(s): ${res.clusters.map((c) => `${c.name} (${c.status})`).join(', ')}`
          : `No ${provider.toUpperCase()} clusters in ${res.project ? `${res.project}/` : ''}${res.location}.`,
      };
    }
    const { system, signal } = ctx;
    const env = system.environment;
    if (!env) throw new RayMcpError('shutting_down', 'The environment actor is gone.', 'Restart ray-mcp.');
    const report = (await system.ask(env, { type: 'env.check' }, { signal })).context.report?.kubernetes;
    const current = report?.currentContext;
    const contexts = (report?.contexts ?? []).map((c) => {
      const conn = system.kube(c.name);
      return {
        ...c,
        current: c.name === current,
        connection: conn ? connectionView(conn).status : undefined,
      };
    });
    return {
      structured: { provider, contexts, current_context: current },
      text: contexts.length
        ? `${contexts.length} context(s); current: ${current ?? '(none)'}.`
        : `No kubeconfig contexts. ${report?.fix ?? 'Set KUBECONFIG to a kubeconfig file.'}`,
    };
  },
});

export const connectKubernetesCluster = defineTool({
  name: 'connect_kubernetes_cluster',
  title: 'Connect to a Kubernetes cluster',
  description:
    'Connects ray-mcp to a Kubernetes cluster so KubeRay clusters and jobs can be run there: a kubeconfig context ' +
    '(default: the current one), or a GKE/EKS cluster by name (ray-mcp builds the credentials in memory; with ' +
    'write_kubeconfig it also adds a context to your kubeconfig). Checks the API answers and the credentials work, ' +
    'then watches RayClusters, RayJobs and Ray pods. Reconnecting an existing connection is safe.',
  input: z
    .object({
      provider: ProviderSchema.optional(),
      context: z
        .string()
        .min(1)
        .optional()
        .describe('kubeconfig: the context (default: the current context)'),
      cluster_name: z.string().min(1).optional().describe('gke/eks: the cluster'),
      ...cloudWhere,
      write_kubeconfig: z
        .boolean()
        .optional()
        .describe('gke/eks: also add a context for it to your kubeconfig (default false)'),
    })
    .strict(),
  output: ConnectionViewSchema.extend({ kubeconfig_written: z.string().optional() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx) {
    const { system, signal } = ctx;
    const provider = args.provider ?? (args.cluster_name && !args.context ? undefined : 'kubeconfig');
    if (!provider) {
      throw new RayMcpError(
        'invalid_input',
        'cluster_name needs a provider: gke or eks.',
        'Pass provider="gke" (with zone/project_id) or provider="eks" (with region), or pass context for a kubeconfig context.',
      );
    }
    if (provider === 'kubeconfig') {
      const context = args.context ?? (await currentKubeContext(system, signal));
      if (!context) {
        throw new RayMcpError(
          'invalid_input',
          'No context given and the kubeconfig has no current context.',
          'Pass context (list_kubernetes_clusters shows them), or set KUBECONFIG to a kubeconfig with a current context.',
        );
      }
      const actor = await connectTarget(system, { kind: 'kubeconfig', context }, signal);
      const view = connectionView(actor);
      return { structured: view, text: connectedText(view) };
    }
    if (!args.cluster_name) {
      throw new RayMcpError(
        'invalid_input',
        `Which ${provider.toUpperCase()} cluster? cluster_name is missing.`,
        `Pass cluster_name (list_kubernetes_clusters with provider="${provider}" shows them).`,
      );
    }
    const target = await cloudKubeTarget(ctx, { ...args, provider, cluster_name: args.cluster_name });
    const actor = await connectTarget(system, target, signal);
    let written: string | undefined;
    if (args.write_kubeconfig) {
      const res = await writeKubeconfigContext(ctx, target, {});
      written = `${res.context} in ${res.path}`;
    }
    const view = connectionView(actor);
    return {
      structured: { ...view, kubeconfig_written: written },
      text: `${connectedText(view)}${written ? ` Added context ${written}.` : ''}`,
    };
  },
});

function connectedText(v: z.infer<typeof ConnectionViewSchema>): string {
  return (
    `Connected to ${v.connection} (${v.server}, Kubernetes ${v.kubernetes_version}); default namespace ${v.namespace}` +
    (v.kuberay_crds === false
      ? '. The KubeRay CRDs are not installed: install the KubeRay operator before starting Ray clusters.'
      : '.')
  );
}

export const getKubernetesClusterInfo = defineTool({
  name: 'get_kubernetes_cluster_info',
  title: 'Kubernetes cluster info',
  description:
    'For a connected cluster (default: the current connection, or name one with context): Kubernetes version, ' +
    'nodes (count, ready, CPU, memory, GPUs by type), namespaces, whether the KubeRay CRDs and operator are there ' +
    '(with versions), and the connection status. For a GKE/EKS cluster by cluster_name: its version, status, ' +
    'endpoint and node pools (machine types, counts, GPUs) from the cloud API, plus any creation under way.',
  input: z
    .object({
      provider: ProviderSchema.optional(),
      context: z.string().min(1).optional().describe('The connection (kubeconfig context) to describe'),
      cluster_name: z.string().min(1).optional().describe('gke/eks: the cluster'),
      ...cloudWhere,
    })
    .strict(),
  output: z.object({
    connection: ConnectionViewSchema.optional(),
    kubernetes: z
      .object({
        version: z.string(),
        platform: z.string().optional(),
        nodes: z.object({
          total: z.number(),
          ready: z.number(),
          cpu: z.number(),
          memory_gi: z.number(),
          gpus: z.record(z.string(), z.number()),
          sample: z.array(z.string()),
        }),
        namespaces: z.array(z.string()),
        namespaces_truncated: z.boolean(),
        kuberay: z.object({
          crds: z.array(z.object({ name: z.string(), versions: z.array(z.string()) })),
          crds_installed: z.boolean(),
          operator: z
            .object({
              namespace: z.string(),
              name: z.string(),
              image: z.string().optional(),
              version: z.string().optional(),
              ready: z.boolean(),
            })
            .optional(),
        }),
        problems: z.array(z.string()).describe('What could not be read (often: missing rights)'),
      })
      .optional(),
    cloud: CloudClusterInfoSchema.optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx) {
    const { system, signal } = ctx;
    const provider = args.provider ?? (args.cluster_name && !args.context ? undefined : 'kubeconfig');
    if (!provider) {
      throw new RayMcpError(
        'invalid_input',
        'cluster_name needs a provider: gke or eks.',
        'Pass provider="gke" or provider="eks", or context for a kubeconfig context.',
      );
    }
    let cloud: z.infer<typeof CloudClusterInfoSchema> | undefined;
    let actor = undefined as ReturnType<typeof currentConnection>;
    if (provider !== 'kubeconfig') {
      if (!args.cluster_name) {
        throw new RayMcpError(
          'invalid_input',
          'cluster_name is missing.',
          `Pass cluster_name (list_kubernetes_clusters with provider="${provider}" shows them).`,
        );
      }
      cloud = await describeCloudCluster(ctx, { ...args, provider, cluster_name: args.cluster_name });
      // If ray-mcp is connected to it, add what the API server says.
      actor = system.kubeConnections().find((a) => {
        const t = a.getSnapshot().context.target;
        return t.kind === 'cloud' && t.provider === provider && t.cluster === args.cluster_name;
      });
    } else if (args.context) {
      actor = system.kube(args.context);
      if (!actor) actor = await connectTarget(system, { kind: 'kubeconfig', context: args.context }, signal);
    } else {
      actor = currentConnection(system);
      if (!actor) {
        throw new RayMcpError(
          'not_found',
          'Not connected to any Kubernetes cluster.',
          'Connect with connect_kubernetes_cluster, or name a kubeconfig context with context.',
        );
      }
    }
    if (!actor) {
      return {
        structured: { cloud },
        text: `${cloud!.name}: ${cloud!.status}, Kubernetes ${cloud!.version ?? '?'} (not connected; connect_kubernetes_cluster connects).`,
      };
    }
    const snapshot = await system.ask(actor, { type: 'kube.describe' }, { signal, timeoutMs: 30_000 });
    const info = snapshot.context.info!;
    const connection = connectionView(actor);
    const crdsInstalled = info.crds.some((c) => c.name === 'rayclusters.ray.io');
    const gpus = Object.entries(info.nodes.gpus)
      .map(([t, n]) => `${n}x ${t}`)
      .join(', ');
    return {
      structured: {
        connection,
        cloud,
        kubernetes: {
          version: info.version,
          platform: info.platform,
          nodes: {
            total: info.nodes.total,
            ready: info.nodes.ready,
            cpu: info.nodes.cpu,
            memory_gi: info.nodes.memoryGi,
            gpus: info.nodes.gpus,
            sample: info.nodes.sample,
          },
          namespaces: info.namespaces,
          namespaces_truncated: info.namespacesTruncated,
          kuberay: { crds: info.crds, crds_installed: crdsInstalled, operator: info.operator },
          problems: info.problems,
        },
      },
      text:
        `${connection.connection}: Kubernetes ${info.version}, ${info.nodes.ready}/${info.nodes.total} node(s) ready${gpus ? ` (GPUs: ${gpus})` : ''}; ` +
        (crdsInstalled
          ? `KubeRay CRDs installed${info.operator ? `, operator ${info.operator.version ?? ''} in ${info.operator.namespace}` : ', no operator Deployment found'}.`
          : 'KubeRay CRDs not installed: install the operator (helm repo add kuberay https://ray-project.github.io/kuberay-helm/; helm install kuberay-operator kuberay/kuberay-operator) to run Ray here.'),
    };
  },
});

export const KUBERNETES_TOOLS = [listKubernetesClusters, connectKubernetesCluster, getKubernetesClusterInfo];
