/** Kubernetes connection actor snapshot → the compact view the Kubernetes tools return. */
import type { ConnectionView } from '../../domain/kube.js';
import { type KubeConnectionActor, kubeStatusOf } from '../../machines/kube-connection.machine.js';

export function connectionView(actor: KubeConnectionActor, now = Date.now()): ConnectionView {
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
      c.lastWatchError && now - c.lastWatchError.at < 60_000
        ? `${c.lastWatchError.resource}: ${c.lastWatchError.message}`
        : c.internalFailure && `restarted after an internal failure (${c.internalFailure})`,
  };
}
