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
  description:
    'With provider "kubeconfig" (the default): the contexts of the kubeconfig files (KUBECONFIG, several files ' +
    'merged as kubectl does), the current one, and which ray-mcp is connected to. With provider "gke" or "eks": the ' +
    'clusters of a GCP project and location ("-" for all) or of an AWS region.',
  input: ListKubernetesInputSchema,
  output: ListKubernetesOutputSchema,
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
    'Connects ray-mcp to a Kubernetes cluster so KubeRay clusters and jobs can be run there: a kubeconfig context ' +
    '(default: the current one), or a GKE/EKS cluster by name (ray-mcp builds the credentials in memory; with ' +
    'write_kubeconfig it also adds a context to your kubeconfig). Checks the API answers and the credentials work, ' +
    'then watches RayClusters, RayJobs and Ray pods. Reconnecting an existing connection is safe.',
  input: ConnectKubernetesInputSchema,
  output: ConnectKubernetesOutputSchema,
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
    'For a connected cluster (default: the current connection, or name one with context): Kubernetes version, ' +
    'nodes (count, ready, CPU, memory, GPUs by type), namespaces, whether the KubeRay CRDs and operator are there ' +
    '(with versions), and the connection status. For a GKE/EKS cluster by cluster_name: its version, status, ' +
    'endpoint and node pools (machine types, counts, GPUs) from the cloud API, plus any creation under way.',
  input: KubernetesInfoInputSchema,
  output: KubernetesInfoOutputSchema,
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
