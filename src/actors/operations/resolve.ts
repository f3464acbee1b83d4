/**
 * Which cluster and which Kubernetes connection a request means: the one named, else the current
 * one; connecting on demand. Shared by the flows of every tool family.
 */
import { RayMcpError } from '../../domain/errors.js';
import { connectionIdOf, type KubeTarget } from '../../domain/kube.js';
import { type KubeConnectionActor, kubeStatusOf } from '../../machines/kube-connection.machine.js';
import { SYSTEM_IDS } from '../../machines/supervisor.machine.js';
import type { ClusterActor } from '../cluster-records.js';
import { clusterView } from '../views/cluster.view.js';
import type { Ops } from './ops.js';

/** How long a request waits for a Kubernetes connection to come up. */
const CONNECT_TIMEOUT_MS = 45_000;

/** The error for a cluster whose actor failed and is down (it is being restarted). */
function downError(ops: Ops, id: string): RayMcpError | undefined {
  const failure = ops.failure(SYSTEM_IDS.cluster(id));
  if (!failure || ops.cluster(id)) return undefined;
  return new RayMcpError(
    'unavailable',
    `The actor of cluster ${id} failed (${failure.error.message}) and is being restarted.`,
    'Try again in a few seconds; the cluster itself was not touched.',
  );
}

/** The cluster a tool acts on: the one named, or else the newest one that is not stopped. */
export function resolveCluster(ops: Ops, id: string | undefined): ClusterActor {
  const all = ops.clusters();
  if (id) {
    const actor = ops.cluster(id);
    if (actor) return actor;
    const down = downError(ops, id);
    if (down) throw down;
    const known = all.map((a) => a.getSnapshot().context.id);
    throw new RayMcpError(
      'not_found',
      `No cluster named ${id}.`,
      known.length
        ? `Known clusters: ${known.join(', ')} (list_ray_clusters shows them).`
        : 'Start one with init_ray_cluster.',
    );
  }
  const current = currentCluster(all);
  if (!current) {
    const down = ops.downClusters()[0];
    if (down) throw downError(ops, down)!;
    throw new RayMcpError(
      'not_found',
      'There is no current cluster.',
      'Start one with init_ray_cluster (no arguments starts a local cluster), or name one with cluster_id.',
    );
  }
  return current;
}

/**
 * The newest cluster that is usable (starting, running, degraded), else the newest not stopped.
 * A cluster whose start failed is never current: it never was usable, and nothing of it runs.
 */
export function currentCluster(all: ClusterActor[]): ClusterActor | undefined {
  const newestFirst = [...all].reverse().map((a) => [a, clusterView(a).status] as const);
  return (
    newestFirst.find(([, s]) => s === 'running' || s === 'degraded' || s === 'starting')?.[0] ??
    newestFirst.find(([a, s]) => s !== 'stopped' && !failedStart(a, s))?.[0]
  );
}

/** Failed before it was ever up: its start failed. */
export function failedStart(actor: ClusterActor, status = clusterView(actor).status): boolean {
  const c = actor.getSnapshot().context as { startedAt?: number; connectedAt?: number };
  return status === 'failed' && c.startedAt === undefined && c.connectedAt === undefined;
}

/** The newest connection that is up (or getting there). */
export function currentConnection(ops: Ops): KubeConnectionActor | undefined {
  const all = ops.kubeConnections().reverse();
  return (
    all.find((a) => ['connected', 'lost', 'reconnecting'].includes(kubeStatusOf(a.getSnapshot()))) ??
    all.find((a) => kubeStatusOf(a.getSnapshot()) === 'connecting')
  );
}

/** Connects (or reconnects) a target and waits until the connection is up. */
export async function connectTarget(ops: Ops, target: KubeTarget): Promise<KubeConnectionActor> {
  const id = connectionIdOf(target);
  const existing = ops.kube(id);
  if (existing && kubeStatusOf(existing.getSnapshot()) === 'connected') return existing;
  await ops.askForAnswer(ops.root, { type: 'kube.ensure', id, target });
  const actor = ops.kube(id);
  if (actor?.getSnapshot().status !== 'active') throw endedError(ops, id);
  try {
    await ops.ask(actor, { type: 'kube.awaitConnected' }, { timeoutMs: CONNECT_TIMEOUT_MS });
  } catch (err) {
    // A connection that failed and ended before the wait began answers with why it failed.
    if (actor.getSnapshot().status !== 'active') throw endedError(ops, id);
    throw err;
  }
  return actor;
}

/** The error of a connection whose actor failed and ended. */
function endedError(ops: Ops, id: string): RayMcpError {
  const error = ops.endedConnection(id)?.error;
  return error
    ? RayMcpError.from(error)
    : new RayMcpError('unavailable', `Kubernetes connection ${id} did not start.`, 'Try again.');
}

/** The context kubectl would use now, from the environment actor's look at the kubeconfig files. */
export async function currentKubeContext(ops: Ops): Promise<string | undefined> {
  const snapshot = await ops.ask(ops.environment, { type: 'env.check' });
  return snapshot.context.report?.kubernetes?.currentContext;
}

/**
 * The connection a KubeRay request acts on: the context named, else the current connection, else
 * the kubeconfig's current context (connected on the fly).
 */
export async function resolveConnection(ops: Ops, context: string | undefined): Promise<KubeConnectionActor> {
  if (context) {
    const known = ops.kube(context);
    const status = known && kubeStatusOf(known.getSnapshot());
    if (known && status !== 'failed' && status !== 'disconnected') {
      await ops.ask(known, { type: 'kube.awaitConnected' }, { timeoutMs: CONNECT_TIMEOUT_MS });
      return known;
    }
    return connectTarget(ops, { kind: 'kubeconfig', context });
  }
  const current = currentConnection(ops);
  if (current) {
    await ops.ask(current, { type: 'kube.awaitConnected' }, { timeoutMs: CONNECT_TIMEOUT_MS });
    return current;
  }
  const fallback = await currentKubeContext(ops);
  if (!fallback) {
    throw new RayMcpError(
      'not_found',
      'No Kubernetes connection, and the kubeconfig has no current context.',
      'Connect with connect_kubernetes_cluster (a kubeconfig context, or a GKE/EKS cluster), or name kubernetes_context.',
    );
  }
  return connectTarget(ops, { kind: 'kubeconfig', context: fallback });
}

/** A connection with the KubeRay CRDs, or the error that says to install the operator (`what`: RayCluster, RayJob). */
export function requireKubeRay(conn: KubeConnectionActor, what: string): void {
  const session = conn.getSnapshot().context.session!;
  if (session.crdsInstalled) return;
  throw new RayMcpError(
    'unavailable',
    `The KubeRay CRDs are not installed on ${session.context} (no ray.io/v1 ${what}).`,
    'Install the KubeRay operator (helm install kuberay-operator kuberay/kuberay-operator), then connect again.',
  );
}
