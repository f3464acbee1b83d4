/**
 * Turns a Ray dashboard into `ray.health` events: one poll per tick (GCS health plus the node
 * list), and an event only when what it sees changes. Errors are events too, never a crash.
 */
import type { Observable } from 'rxjs';
import { fromEventObservable } from 'xstate';
import type { Dashboards } from '../clients/dashboard.client.js';
import type { ClusterHealth, RayHealthEvent } from '../domain/cluster-record.js';
import type { DashboardTarget } from '../domain/dashboard.js';
import { nodesFromState } from '../domain/ray-views.js';
import { lazy } from './lazy.js';

export interface HealthWatcherOptions {
  dashboards: Dashboards;
  intervalMs: number;
}

type Rx = typeof import('rxjs');

export function healthEvents(
  rx: Rx,
  dashboard: DashboardTarget,
  opts: HealthWatcherOptions,
): Observable<ClusterHealth> {
  const { defer, distinctUntilChanged, from, switchMap, timer } = rx;
  const client = opts.dashboards.client(dashboard, { timeoutMs: Math.min(5000, opts.intervalMs * 2) });
  const check = async (): Promise<ClusterHealth> => {
    const ok = await client.gcsHealthy();
    if (!ok) return { ok: false, checkedAt: Date.now(), nodes: [], error: 'GCS health check failed' };
    try {
      const nodes = nodesFromState(await client.listNodes());
      return { ok: true, checkedAt: Date.now(), nodes };
    } catch (err) {
      return {
        ok: false,
        checkedAt: Date.now(),
        nodes: [],
        error: err instanceof Error ? err.message : String(err),
      };
    }
  };
  return timer(0, opts.intervalMs).pipe(
    // A slow answer is dropped for the next tick rather than piling up requests.
    switchMap(() => defer(() => from(check()))),
    distinctUntilChanged(
      (a, b) => a.ok === b.ok && a.error === b.error && JSON.stringify(a.nodes) === JSON.stringify(b.nodes),
    ),
  );
}

export function healthWatcherLogic(opts: HealthWatcherOptions) {
  return fromEventObservable<RayHealthEvent, { dashboard: DashboardTarget }>(({ input }) =>
    lazy(async () => {
      // rxjs loads with the first watched cluster, not at start-up.
      const rx = await import('rxjs');
      return healthEvents(rx, input.dashboard, opts).pipe(
        rx.map((health) => ({ type: 'ray.health' as const, health })),
      );
    }),
  );
}
