/** Compact views of what the dashboard reports, for tools with a limited context. */

import type { RayNodeHealth } from './cluster-record.js';
import type { RayNodeState } from './ray-api.js';
import { NODE_LABEL, NODE_TYPE_LABEL } from './ray-start.js';

type UsagePair = [number, number];

/** Ray camelCases the resource names in /api/cluster_status; compare names without case or `_`. */
const norm = (name: string) => name.replace(/_/g, '').toLowerCase();

function loadReport(status: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const cs = status?.clusterStatus as Record<string, unknown> | undefined;
  return cs?.loadMetricsReport as Record<string, unknown> | undefined;
}

const HIDDEN = (name: string) => name.startsWith('node:');

function compactResources(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => !HIDDEN(k)));
}

export function nodesFromState(nodes: RayNodeState[], status?: Record<string, unknown>): RayNodeHealth[] {
  const byNode = (loadReport(status)?.usageByNode ?? {}) as Record<string, Record<string, UsagePair>>;
  return nodes.map((n) => {
    const usage = byNode[n.node_id];
    let available: Record<string, number> | undefined;
    if (usage) {
      const normalized = new Map(Object.entries(usage).map(([k, v]) => [norm(k), v]));
      available = {};
      for (const [name, total] of Object.entries(compactResources(n.resources_total))) {
        const pair = normalized.get(norm(name));
        available[name] = pair ? Math.max(0, pair[1] - pair[0]) : total;
      }
    }
    return {
      nodeId: n.node_id,
      name: n.labels?.[NODE_LABEL],
      nodeType: n.labels?.[NODE_TYPE_LABEL],
      alive: n.state === 'ALIVE',
      isHead: n.is_head_node,
      address: n.node_ip,
      resourcesTotal: compactResources(n.resources_total),
      resourcesAvailable: available,
    };
  });
}

/**
 * Cluster-wide use: totals from the alive nodes (the autoscaler's report lags behind a node that
 * just joined), amounts in use from that report.
 */
export function usageOf(
  nodes: RayNodeHealth[],
  status?: Record<string, unknown>,
): Record<string, { used: number; total: number }> {
  const used = new Map(
    Object.entries((loadReport(status)?.usage ?? {}) as Record<string, UsagePair>).map(([k, v]) => [
      norm(k),
      v[0],
    ]),
  );
  const out: Record<string, { used: number; total: number }> = {};
  for (const node of nodes) {
    if (!node.alive) continue;
    for (const [name, amount] of Object.entries(node.resourcesTotal)) {
      out[name] = { used: 0, total: (out[name]?.total ?? 0) + amount };
    }
  }
  for (const [name, u] of Object.entries(out)) u.used = Math.min(u.total, used.get(norm(name)) ?? 0);
  return out;
}
