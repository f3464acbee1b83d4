import type { ConnectionView } from '../../domain/kube.js';
import {
  ConnectKubernetesInputSchema,
  ConnectKubernetesOutputSchema,
  KubernetesInfoInputSchema,
  KubernetesInfoOutputSchema,
  ListKubernetesInputSchema,
  ListKubernetesOutputSchema,
} from '../../domain/tools/kubernetes.js';
import { defineTool } from './tool.js';

export const listKubernetesClusters = defineTool({
  name: 'list_kubernetes_clusters',
  title: 'List Kubernetes clusters',
  description: 'Kubeconfig contexts, or with provider gke/eks the clusters of a project/location or region.',
  input: ListKubernetesInputSchema,
  output: ListKubernetesOutputSchema,
  toolsets: ['kuberay', 'cloud'],
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const { fix, ...list } = await run('kubernetes.list', args);
    const name = list.provider.toUpperCase();
    if (list.clusters) {
      return {
        structured: list,
        text: list.clusters.length
          ? `${list.clusters.length} ${name} cluster(s): ${list.clusters.map((c) => `${c.name} (${c.status})`).join(', ')}`
          : `No ${name} clusters in ${list.project ? `${list.project}/` : ''}${list.location}.`,
      };
    }
    const contexts = list.contexts ?? [];
    return {
      structured: list,
      text: contexts.length
        ? `${contexts.length} context(s); current: ${list.current_context ?? '(none)'}.`
        : `No kubeconfig contexts. ${fix ?? 'Set KUBECONFIG to a kubeconfig file.'}`,
    };
  },
});

export const connectKubernetesCluster = defineTool({
  name: 'connect_kubernetes_cluster',
  title: 'Connect to a Kubernetes cluster',
  description:
    'Connects to a Kubernetes cluster: a kubeconfig context (default current) or a GKE/EKS cluster ' +
    'by name.',
  input: ConnectKubernetesInputSchema,
  output: ConnectKubernetesOutputSchema,
  toolsets: ['kuberay', 'cloud'],
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const view = await run('kubernetes.connect', args, { timeoutMs: 120_000 });
    const written = view.kubeconfig_written ? ` Added context ${view.kubeconfig_written}.` : '';
    return { structured: view, text: `${connectedText(view)}${written}` };
  },
});

function connectedText(v: ConnectionView): string {
  const partly = Boolean(v.watch_errors?.length);
  return (
    `${partly ? 'Reached' : 'Connected to'} ${v.connection} (${v.server}, Kubernetes ${v.kubernetes_version}); default namespace ${v.namespace}` +
    (v.kuberay_crds === false
      ? '. The KubeRay CRDs are not installed: install the KubeRay operator before starting Ray clusters.'
      : '.') +
    (v.watch_errors?.length
      ? ` Not fully usable: its watches of namespace ${v.cluster_wide ? '(all)' : v.namespace} fail, so ray-mcp cannot see Ray resources there. ${v.watch_errors!.join(' ')}`
      : '')
  );
}

export const getKubernetesClusterInfo = defineTool({
  name: 'get_kubernetes_cluster_info',
  title: 'Kubernetes cluster info',
  description:
    'A connected cluster: version, nodes, GPUs, KubeRay. A GKE/EKS cluster_name: status and node pools.',
  input: KubernetesInfoInputSchema,
  output: KubernetesInfoOutputSchema,
  toolsets: ['kuberay', 'cloud'],
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { run }) {
    const info = await run('kubernetes.info', args, { timeoutMs: 120_000 });
    const k = info.kubernetes;
    if (!k || !info.connection) {
      const c = info.cloud!;
      return {
        structured: info,
        text: `${c.name}: ${c.status}, Kubernetes ${c.version ?? '?'} (not connected; connect_kubernetes_cluster connects).`,
      };
    }
    const gpus = Object.entries(k.nodes.gpus)
      .map(([t, n]) => `${n}x ${t}`)
      .join(', ');
    const op = k.kuberay.operator;
    const denied = (part: string) => k.unreadable?.find((u) => u.startsWith(`${part}:`));
    const nodes = denied('nodes')
      ? 'nodes unknown (not readable)'
      : `${k.nodes.ready}/${k.nodes.total} node(s) ready${gpus ? ` (GPUs: ${gpus})` : ''}`;
    const operator = op
      ? `, operator ${op.version ?? ''} in ${op.namespace}`
      : denied('operator')
        ? ', operator unknown (not readable)'
        : ', no operator Deployment found';
    const crdsSeen = denied('crds')
      ? ' (seen through API discovery; the CRDs themselves are not readable)'
      : '';
    return {
      structured: info,
      text:
        `${info.connection.connection}: Kubernetes ${k.version}, ${nodes}; ` +
        (k.kuberay.crds_installed
          ? `KubeRay CRDs installed${crdsSeen}${operator}.`
          : 'KubeRay CRDs not installed: install the operator (helm repo add kuberay https://ray-project.github.io/kuberay-helm/; helm install kuberay-operator kuberay/kuberay-operator) to run Ray here.') +
        (k.unreadable?.length ? ` Could not read: ${k.unreadable.join('; ')}.` : ''),
    };
  },
});

export const KUBERNETES_TOOLS = [listKubernetesClusters, connectKubernetesCluster, getKubernetesClusterInfo];
