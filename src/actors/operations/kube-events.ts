/**
 * The Kubernetes events of a KubeRay object for an inspect: asked of its connection, bounded in
 * time; a connection that is gone, a timeout or a refusal leaves a note instead of failing.
 */
import type { KubeEventsRead, KubeEventView } from '../../domain/kube-events.js';
import { isKubeRay } from '../cluster-records.js';
import type { Ops } from './ops.js';

const EVENTS_TIMEOUT_MS = 12_000;

export async function kubeEventsOf(
  ops: Ops,
  connectionId: string,
  what: { namespace: string; names: string[]; clusters: string[]; pods?: string[] },
): Promise<KubeEventsRead> {
  const conn = ops.kube(connectionId);
  if (!conn) return { events: [], note: `events not read: connection ${connectionId} is gone` };
  try {
    const { data } = await ops.askForAnswer(
      conn,
      { type: 'kube.events', ...what },
      { timeoutMs: EVENTS_TIMEOUT_MS },
    );
    return data;
  } catch (err) {
    return { events: [], note: `events not read: ${(err as Error).message.slice(0, 200)}` };
  }
}

/** A result with the events added (when there are any) and the note appended to its own. */
export function withEvents<T extends { note?: string }>(
  result: T,
  read: KubeEventsRead,
): T & { events?: KubeEventsRead['events'] } {
  const note = [result.note, read.note && `Kubernetes ${read.note}.`].filter(Boolean).join(' ') || undefined;
  return { ...result, ...(read.events.length && { events: read.events }), note };
}

/**
 * For the failure analysis of a job on a KubeRay cluster: the Warning events of the cluster and
 * its pods (an OOMKilled pod, a worker that cannot be scheduled). Nothing for other clusters.
 */
export async function clusterWarnings(ops: Ops, clusterId: string): Promise<{ events?: KubeEventView[] }> {
  const actor = ops.cluster(clusterId);
  if (!actor || !isKubeRay(actor)) return {};
  const c = actor.getSnapshot().context;
  const read = await kubeEventsOf(ops, c.connectionId, {
    namespace: c.namespace,
    names: [c.name],
    clusters: [c.name],
    pods: c.pods.map((p) => p.name),
  });
  const warnings = read.events.filter((e) => e.type === 'Warning');
  return warnings.length ? { events: warnings } : {};
}
