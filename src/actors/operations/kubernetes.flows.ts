/**
 * The flows of the Kubernetes tools: list contexts or cloud clusters, connect (a kubeconfig
 * context, or a GKE/EKS cluster through its cloud connection), describe a connected cluster.
 */
import type { CloudProvider } from '../../domain/cloud.js';
import { RayMcpError } from '../../domain/errors.js';
import type { KubernetesOperations } from '../../domain/operations/kubernetes.js';
import type { KubernetesInfoOutput } from '../../domain/tools/kubernetes.js';
import type { KubeConnectionActor } from '../../machines/kube-connection.machine.js';
import { connectionView } from '../views/kube.view.js';
import {
  cloudKubeTarget,
  describeCloudCluster,
  listCloudClusters,
  writeKubeconfigContext,
} from './cloud.flows.js';
import type { FlowsOf } from './flow.js';
import type { Ops } from './ops.js';
import { connectTarget, currentConnection, currentKubeContext } from './resolve.js';

export const kubernetesFlows: FlowsOf<KubernetesOperations> = {
  async 'kubernetes.list'(ops, args) {
    const provider = args.provider ?? 'kubeconfig';
    if (provider !== 'kubeconfig')
      return { provider, ...(await listCloudClusters(ops, { ...args, provider })) };
    const report = (await ops.ask(ops.environment, { type: 'env.check' })).context.report?.kubernetes;
    const current = report?.currentContext;
    const now = ops.now();
    const contexts = (report?.contexts ?? []).map((c) => {
      const conn = ops.kube(c.name);
      return {
        ...c,
        current: c.name === current,
        connection: conn
          ? connectionView(conn, now).status
          : ops.endedConnection(c.name)
            ? 'failed'
            : undefined,
      };
    });
    return { provider, contexts, current_context: current, fix: contexts.length ? undefined : report?.fix };
  },

  async 'kubernetes.connect'(ops, args) {
    const provider = providerOf(
      args,
      'Pass provider="gke" (with zone/project_id) or provider="eks" (with region), or pass context for a kubeconfig context.',
    );
    if (provider === 'kubeconfig') {
      const context = args.context ?? (await currentKubeContext(ops));
      if (!context) {
        throw new RayMcpError(
          'invalid_input',
          'No context given and the kubeconfig has no current context.',
          'Pass context (list_kubernetes_clusters shows them), or set KUBECONFIG to a kubeconfig with a current context.',
        );
      }
      const actor = await connectTarget(ops, { kind: 'kubeconfig', context });
      return withWatchErrors(ops, actor);
    }
    const clusterName = requireClusterName(args.cluster_name, provider);
    const target = await cloudKubeTarget(ops, { ...args, provider, cluster_name: clusterName });
    const actor = await connectTarget(ops, target);
    let written: string | undefined;
    if (args.write_kubeconfig) {
      const res = await writeKubeconfigContext(ops, target, {});
      written = `${res.context} in ${res.path}`;
    }
    return { ...(await withWatchErrors(ops, actor)), kubeconfig_written: written };
  },

  async 'kubernetes.info'(ops, args) {
    const provider = providerOf(
      args,
      'Pass provider="gke" or provider="eks", or context for a kubeconfig context.',
    );
    let cloud: KubernetesInfoOutput['cloud'];
    let actor: KubeConnectionActor | undefined;
    if (provider !== 'kubeconfig') {
      const clusterName = requireClusterName(args.cluster_name, provider);
      cloud = await describeCloudCluster(ops, { ...args, provider, cluster_name: clusterName });
      // If ray-mcp is connected to it, add what the API server says.
      actor = ops.kubeConnections().find((a) => {
        const t = a.getSnapshot().context.target;
        return t.kind === 'cloud' && t.provider === provider && t.cluster === clusterName;
      });
      if (!actor) return { cloud };
    } else if (args.context) {
      actor =
        ops.kube(args.context) ?? (await connectTarget(ops, { kind: 'kubeconfig', context: args.context }));
    } else {
      actor = currentConnection(ops);
      if (!actor) {
        throw new RayMcpError(
          'not_found',
          'Not connected to any Kubernetes cluster.',
          'Connect with connect_kubernetes_cluster, or name a kubeconfig context with context.',
        );
      }
    }
    const info = (await ops.ask(actor, { type: 'kube.describe' }, { timeoutMs: 30_000 })).context.info!;
    const session = actor.getSnapshot().context.session;
    const unreadable = info.unreadable.map((u) => `${u.part}: ${u.reason}`);
    return {
      connection: connectionView(actor, ops.now()),
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
        kuberay: {
          crds: info.crds ?? [],
          // Neither the CRDs nor discovery readable: what connecting learnt (a 404 on RayClusters).
          crds_installed: info.crds
            ? info.crds.some((c) => c.name === 'rayclusters.ray.io')
            : (session?.crdsInstalled ?? false),
          operator: info.operator,
        },
        problems: info.problems,
        unreadable: unreadable.length ? unreadable : undefined,
      },
    };
  },
};

/** How long connect waits for the first list of each watched resource. */
const FIRST_SYNC_TIMEOUT_MS = 10_000;

/**
 * The connection's view once its watches have listed (or failed to): "Connected" is only said
 * with what the watches could not read (a 403 on pods is not a working connection).
 */
async function withWatchErrors(ops: Ops, actor: KubeConnectionActor) {
  const c = actor.getSnapshot().context;
  const namespace = c.session?.clusterWide ? '' : (c.session?.namespace ?? 'default');
  const errors = (
    await Promise.all(
      (c.session?.crdsInstalled === false
        ? (['pods'] as const)
        : (['rayclusters', 'rayjobs', 'pods'] as const)
      ).map((resource) =>
        ops
          .ask(actor, { type: 'kube.awaitSynced', namespace, resource }, { timeoutMs: FIRST_SYNC_TIMEOUT_MS })
          .then(
            () => undefined,
            (err: unknown) => (err instanceof RayMcpError && err.code === 'timeout' ? undefined : err),
          ),
      ),
    )
  )
    .filter((e): e is Error => e instanceof Error)
    .map((e) => e.message);
  return { ...connectionView(actor, ops.now()), watch_errors: errors.length ? errors : undefined };
}

/** kubeconfig unless a cluster_name without a context asks for a cloud, which then needs a provider. */
function providerOf(
  args: { provider?: 'kubeconfig' | CloudProvider; cluster_name?: string; context?: string },
  fix: string,
): 'kubeconfig' | CloudProvider {
  const provider = args.provider ?? (args.cluster_name && !args.context ? undefined : 'kubeconfig');
  if (!provider) throw new RayMcpError('invalid_input', 'cluster_name needs a provider: gke or eks.', fix);
  return provider;
}

function requireClusterName(name: string | undefined, provider: CloudProvider): string {
  if (name) return name;
  throw new RayMcpError(
    'invalid_input',
    `Which ${provider.toUpperCase()} cluster? cluster_name is missing.`,
    `Pass cluster_name (list_kubernetes_clusters with provider="${provider}" shows them).`,
  );
}
