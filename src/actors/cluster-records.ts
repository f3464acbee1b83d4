/** Snapshot → the record kept in the state file. */
import type { ClusterRecord } from '../domain/cluster-record.js';
import type { KubeTarget } from '../domain/kube.js';
import { type ExternalClusterActor, externalStatusOf } from '../machines/external-cluster.machine.js';
import { type KubeRayClusterActor, kuberayStatusOf } from '../machines/kuberay-cluster.machine.js';
import { type LocalClusterActor, recordStatusOf } from '../machines/local-cluster.machine.js';

export type ClusterActor = LocalClusterActor | ExternalClusterActor | KubeRayClusterActor;

export function isLocal(actor: ClusterActor): actor is LocalClusterActor {
  return 'counters' in (actor.getSnapshot().context as object);
}

export function isKubeRay(actor: ClusterActor): actor is KubeRayClusterActor {
  return 'connectionId' in (actor.getSnapshot().context as object);
}

export function recordOf(
  actor: ClusterActor,
  targetOf: (connectionId: string) => KubeTarget | undefined,
): ClusterRecord | undefined {
  if (isKubeRay(actor)) {
    const s = actor.getSnapshot();
    const c = s.context;
    const target = targetOf(c.connectionId);
    if (!target) return undefined;
    return {
      id: c.id,
      kind: 'kuberay',
      status: kuberayStatusOf(s),
      connectionId: c.connectionId,
      target,
      namespace: c.namespace,
      name: c.name,
      owned: c.owned,
      createdAt: c.createdAt,
    };
  }
  if (isLocal(actor)) {
    const s = actor.getSnapshot();
    const c = s.context;
    return {
      id: c.id,
      kind: 'local',
      status: recordStatusOf(s),
      spec: c.spec,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      tempDir: c.tempDir,
      rayBin: c.rayBin,
      ray: c.ray,
      nodes: Object.values(c.nodes),
      counters: c.counters,
      error: c.error,
      note: c.note,
    };
  }
  const s = (actor as ExternalClusterActor).getSnapshot();
  return {
    id: s.context.id,
    kind: 'external',
    status: externalStatusOf(s),
    address: s.context.address,
    createdAt: s.context.createdAt,
    ray: s.context.ray,
  };
}
