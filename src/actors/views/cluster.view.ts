/** Cluster actor snapshot → the compact view every cluster tool returns. `now` is the time of the look. */

import type { ClusterView, NodeView } from '../../domain/cluster.js';
import type { RayNodeHealth } from '../../domain/cluster-record.js';
import { type DashboardTarget, dashboardOwner } from '../../domain/dashboard.js';
import { paths } from '../../domain/kuberay.js';
import { type ExternalClusterActor, externalStatusOf } from '../../machines/external-cluster.machine.js';
import {
  type KubeRayClusterActor,
  kuberayStatusOf,
  workerCounts,
} from '../../machines/kuberay-cluster.machine.js';
import { statusOf } from '../../machines/local-cluster.machine.js';
import { type ClusterActor, isKubeRay, isLocal } from '../cluster-records.js';

export const MAX_NODES = 50;

const iso = (ms: number) => new Date(ms).toISOString();

function rayNodeView(n: RayNodeHealth): NodeView {
  return {
    name: n.name ?? n.nodeId.slice(0, 12),
    node_type: n.nodeType ?? (n.isHead ? 'head' : 'worker'),
    alive: n.alive,
    node_id: n.nodeId,
    address: n.address,
    resources_total: n.resourcesTotal,
    resources_available: n.resourcesAvailable,
  };
}

export function clusterView(actor: ClusterActor, now = Date.now()): ClusterView {
  if (isLocal(actor)) {
    const snapshot = actor.getSnapshot();
    const c = snapshot.context;
    const status = statusOf(snapshot);
    // Liveness from whichever look is newer; availability only the details fetch knows.
    const seen =
      c.details && (!c.health || c.details.fetchedAt >= c.health.checkedAt)
        ? c.details.nodes
        : c.health?.nodes;
    const byName = new Map((seen ?? []).filter((n) => n.name).map((n) => [n.name!, n]));
    const available = new Map((c.details?.nodes ?? []).map((n) => [n.nodeId, n.resourcesAvailable]));
    const nodes: NodeView[] = Object.values(c.nodes).map((n) => {
      const ray = byName.get(n.name);
      return {
        name: n.name,
        node_type: n.nodeType,
        alive:
          status !== 'stopped' &&
          (n.state === 'up' || n.state === 'launched') &&
          (ray ? ray.alive : n.state === 'up'),
        pid: n.state === 'exited' ? undefined : n.pid,
        node_id: n.nodeId ?? ray?.nodeId,
        address: ray?.address,
        resources_total: ray?.resourcesTotal,
        resources_available: ray?.resourcesAvailable ?? (ray ? available.get(ray.nodeId) : undefined),
        exit: n.exit,
      };
    });
    return {
      cluster_id: c.id,
      kind: 'local',
      status,
      owned: true,
      protected: c.spec.protected || undefined,
      dashboard_url: c.ray?.dashboardUrl,
      gcs_address: c.ray?.gcsAddress,
      client_address: c.ray?.clientAddress,
      ray_version: c.ray?.version,
      session_name: c.ray?.sessionName,
      created_at: iso(c.createdAt),
      uptime_seconds:
        c.startedAt && (status === 'running' || status === 'degraded')
          ? Math.round((now - c.startedAt) / 1000)
          : undefined,
      nodes: nodes.slice(0, MAX_NODES),
      error: c.error && {
        message: c.error.message,
        fix: c.error.fix,
        excerpt: c.error.excerpt,
        step: c.error.step,
        log_dir: c.error.logDir,
      },
      note: c.note,
    };
  }
  if (isKubeRay(actor)) return kuberayView(actor, now);
  const snapshot = (actor as ExternalClusterActor).getSnapshot();
  const c = snapshot.context;
  const status = externalStatusOf(snapshot);
  const seen = c.details?.nodes ?? c.health?.nodes ?? [];
  return {
    cluster_id: c.id,
    kind: 'external',
    status,
    owned: false,
    dashboard_url: c.ray?.dashboardUrl,
    gcs_address: c.ray?.gcsAddress || undefined,
    ray_version: c.ray?.version,
    session_name: c.ray?.sessionName,
    created_at: iso(c.createdAt),
    uptime_seconds:
      c.connectedAt && status === 'running' ? Math.round((now - c.connectedAt) / 1000) : undefined,
    nodes: seen.slice(0, MAX_NODES).map(rayNodeView),
    error: c.error && { message: c.error.message, fix: c.error.fix },
    note: status === 'stopped' ? 'Disconnected; the cluster itself was not touched.' : undefined,
  };
}

/** The dashboard of a KubeRay cluster, through the API server's service proxy. */
export function kuberayDashboardUrl(actor: KubeRayClusterActor): string | undefined {
  const c = actor.getSnapshot().context;
  if (!c.server) return undefined;
  return paths.dashboardProxy(c.server, c.namespace, c.cr?.headServiceName ?? `${c.name}-head-svc`);
}

function kuberayView(actor: KubeRayClusterActor, now: number): ClusterView {
  const snapshot = actor.getSnapshot();
  const c = snapshot.context;
  const status = kuberayStatusOf(snapshot);
  const nodes: NodeView[] = [...c.pods]
    .sort((a, b) =>
      a.nodeType === b.nodeType ? a.name.localeCompare(b.name) : a.nodeType === 'head' ? -1 : 1,
    )
    .map((p) => ({
      name: p.name,
      node_type: p.nodeType === 'head' ? 'head' : p.group,
      alive: p.ready && !p.deleting,
      address: p.podIP,
      pod_phase: p.phase,
      reason: p.reason,
    }));
  const link =
    c.link !== 'connected'
      ? `Kubernetes connection ${c.connectionId} is ${c.link}${c.linkMessage ? `: ${c.linkMessage}` : ''}.`
      : undefined;
  return {
    cluster_id: c.id,
    kind: 'kuberay',
    status,
    owned: c.owned,
    protected: c.cr?.protected || undefined,
    dashboard_url: status === 'stopped' ? undefined : kuberayDashboardUrl(actor),
    ray_version: c.cr?.rayVersion ?? c.spec?.rayVersion,
    created_at: iso(c.createdAt),
    uptime_seconds:
      c.startedAt && (status === 'running' || status === 'degraded')
        ? Math.round((now - c.startedAt) / 1000)
        : undefined,
    nodes: nodes.slice(0, MAX_NODES),
    kubernetes: {
      context: c.kubeContext ?? c.connectionId,
      connection: c.connectionId,
      namespace: c.namespace,
      name: c.name,
      state: c.cr?.state,
      // One source of truth for counts: the spec and the pods, as worker_groups and readiness use
      // them (the operator's status fields lag behind the pods).
      desired_workers: workerCounts(c).desired,
      ready_workers: workerCounts(c).ready,
      head_service: c.cr?.headServiceName ?? `${c.name}-head-svc`,
      worker_groups: (c.cr?.groups ?? []).map((g) => ({
        group_name: g.name,
        replicas: g.replicas,
        min_replicas: g.minReplicas,
        max_replicas: g.maxReplicas,
        ready: c.pods.filter((p) => p.group === g.name && p.ready && !p.deleting).length,
      })),
      conditions: (c.cr?.conditions ?? [])
        .filter((x) => x.status === 'True' || x.type === 'HeadPodReady')
        .slice(0, 8),
    },
    error: c.error && { message: c.error.message, fix: c.error.fix },
    note: [c.note, link].filter(Boolean).join(' ') || undefined,
  };
}

/** Usage and job counts, when the actor has fetched them. */
export function clusterDetails(actor: ClusterActor) {
  if (isKubeRay(actor)) return undefined;
  const details = (actor as Exclude<ClusterActor, KubeRayClusterActor>).getSnapshot().context.details;
  if (!details) return undefined;
  return { usage: details.usage, jobs: details.jobs, fetched_at: iso(details.fetchedAt) };
}

/** Where a cluster's dashboard is and whose it is (undefined until it has one). */
export function dashboardOf(actor: ClusterActor): DashboardTarget | undefined {
  const view = clusterView(actor);
  if (!view.dashboard_url) return undefined;
  const c = actor.getSnapshot().context as { id: string; createdAt: number; connectionId?: string };
  return { url: view.dashboard_url, connectionId: c.connectionId, owner: dashboardOwner(c.id, c.createdAt) };
}
