/** Kubernetes connections for tools: pick or make one, and the compact view tools return. */
import { z } from 'zod';
import type { RaySystem } from '../../actors/system.js';
import { RayMcpError } from '../../domain/errors.js';
import { connectionIdOf, type KubeTarget } from '../../domain/kube.js';
import { type KubeConnectionActor, kubeStatusOf } from '../../machines/kube-connection.machine.js';

export const ConnectionViewSchema = z.object({
  connection: z.string().describe('Connection id: the kubeconfig context, or gke:/eks: plus the cluster'),
  status: z.enum(['connecting', 'connected', 'lost', 'reconnecting', 'failed', 'disconnected']),
  context: z.string().optional(),
  server: z.string().optional(),
  kubernetes_version: z.string().optional(),
  namespace: z.string().optional().describe('The default namespace of the context'),
  cluster_wide: z.boolean().optional().describe('The user may list RayClusters in every namespace'),
  kuberay_crds: z.boolean().optional(),
  error: z.object({ message: z.string(), fix: z.string() }).optional(),
  last_watch_error: z.string().optional(),
});
export type ConnectionView = z.infer<typeof ConnectionViewSchema>;

export function connectionView(actor: KubeConnectionActor): ConnectionView {
  const s = actor.getSnapshot();
  const c = s.context;
  return {
    connection: c.id,
    status: kubeStatusOf(s),
    context: c.session?.context,
    server: c.session?.server,
    kubernetes_version: c.session?.version,
    namespace: c.session?.namespace,
    cluster_wide: c.session?.clusterWide,
    kuberay_crds: c.session?.crdsInstalled,
    error: c.error && { message: c.error.message, fix: c.error.fix },
    last_watch_error:
      c.lastWatchError && Date.now() - c.lastWatchError.at < 60_000
        ? `${c.lastWatchError.resource}: ${c.lastWatchError.message}`
        : undefined,
  };
}

/** The newest connection that is up (or getting there). */
export function currentConnection(system: RaySystem): KubeConnectionActor | undefined {
  const all = system.kubeConnections().reverse();
  return (
    all.find((a) => ['connected', 'lost', 'reconnecting'].includes(kubeStatusOf(a.getSnapshot()))) ??
    all.find((a) => kubeStatusOf(a.getSnapshot()) === 'connecting')
  );
}

/** Connects (or reconnects) a target and waits until the connection is up. */
export async function connectTarget(
  system: RaySystem,
  target: KubeTarget,
  signal: AbortSignal,
): Promise<KubeConnectionActor> {
  const id = connectionIdOf(target);
  const existing = system.kube(id);
  if (existing && kubeStatusOf(existing.getSnapshot()) === 'connected') return existing;
  await system.askForAnswer(system.root, { type: 'kube.ensure', id, target });
  const actor = system.kube(id)!;
  await system.ask(actor, { type: 'kube.awaitConnected' }, { signal, timeoutMs: 45_000 });
  return actor;
}

/** The context kubectl would use now, from the environment actor's look at the kubeconfig files. */
export async function currentKubeContext(
  system: RaySystem,
  signal: AbortSignal,
): Promise<string | undefined> {
  const env = system.environment;
  if (!env) return undefined;
  const snapshot = await system.ask(env, { type: 'env.check' }, { signal });
  return snapshot.context.report?.kubernetes?.currentContext;
}

/**
 * The connection a KubeRay tool acts on: the context named, else the current connection, else
 * the kubeconfig's current context (connected on the fly).
 */
export async function resolveConnection(
  system: RaySystem,
  context: string | undefined,
  signal: AbortSignal,
): Promise<KubeConnectionActor> {
  if (context) {
    const known = system.kube(context);
    if (
      known &&
      kubeStatusOf(known.getSnapshot()) !== 'failed' &&
      kubeStatusOf(known.getSnapshot()) !== 'disconnected'
    ) {
      await system.ask(known, { type: 'kube.awaitConnected' }, { signal, timeoutMs: 45_000 });
      return known;
    }
    return connectTarget(system, { kind: 'kubeconfig', context }, signal);
  }
  const current = currentConnection(system);
  if (current) {
    await system.ask(current, { type: 'kube.awaitConnected' }, { signal, timeoutMs: 45_000 });
    return current;
  }
  const fallback = await currentKubeContext(system, signal);
  if (!fallback) {
    throw new RayMcpError(
      'not_found',
      'No Kubernetes connection, and the kubeconfig has no current context.',
      'Connect with connect_kubernetes_cluster (a kubeconfig context, or a GKE/EKS cluster), or name kubernetes_context.',
    );
  }
  return connectTarget(system, { kind: 'kubeconfig', context: fallback }, signal);
}
