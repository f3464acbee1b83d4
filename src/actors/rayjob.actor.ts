/**
 * The I/O behind RayJob actors: server-side apply of a RayJob, and its cancellation by suspending
 * it (KubeRay deletes its cluster), stopping the Ray job through its cluster's dashboard (via the
 * API server's service proxy), or deleting the resource.
 */
import { fromPromise } from 'xstate';
import { DashboardHttpError, type Dashboards, dashboardError } from '../clients/dashboard.client.js';
import { deleteObject, KubeApiError, kubeApplyError, kubeError } from '../clients/kube.client.js';
import { RayMcpError } from '../domain/errors.js';
import { FIELD_MANAGER, paths, type RayJobSummary, summarizeRayJob } from '../domain/kuberay.js';
import type { RayJobCancelMode } from '../machines/rayjob.machine.js';
import type { KubeClients } from './kube.actor.js';

export function rayJobActors(deps: { clients: KubeClients; dashboards: Dashboards }) {
  const { clients, dashboards } = deps;
  return {
    applyRayJob: fromPromise<RayJobSummary, { connectionId: string; manifest: Record<string, unknown> }>(
      async ({ input, signal }) => {
        const client = clients.require(input.connectionId);
        const meta = input.manifest.metadata as { name: string; namespace: string };
        const path = paths.rayJob(meta.namespace, meta.name);
        try {
          const existing = await client.get(path, { signal }).catch((err) => {
            if (err instanceof KubeApiError && err.status === 404) return undefined;
            throw err;
          });
          if (existing) {
            // A RayJob's spec is immutable once it runs: a second submit under the same name is a conflict.
            const s = summarizeRayJob(existing);
            throw new RayMcpError(
              'conflict',
              `A RayJob ${meta.namespace}/${meta.name} already exists${s.managedByUs ? '' : ' and ray-mcp did not create it'} (${s.deploymentStatus ?? 'new'}).`,
              'Pick another rayjob name, or follow that one with inspect_ray_job (rayjob=name).',
            );
          }
          const obj = await client.apply(path, input.manifest, { fieldManager: FIELD_MANAGER, signal });
          return summarizeRayJob(obj);
        } catch (err) {
          throw kubeApplyError(err, client.context, 'RayJob', meta.namespace, meta.name);
        }
      },
    ),

    cancelRayJob: fromPromise<
      void,
      { connectionId: string; server?: string; summary: RayJobSummary; mode: RayJobCancelMode }
    >(async ({ input, signal }) => {
      const client = clients.require(input.connectionId);
      const { namespace, name } = input.summary;
      const what = `RayJob ${namespace}/${name}`;
      if (input.mode === 'delete') {
        await deleteObject(client, paths.rayJob(namespace, name), {
          what,
          uid: input.summary.uid,
          lookAgain: 'inspect_ray_job',
          signal,
        });
        return;
      }
      if (input.mode === 'suspend') {
        try {
          await client.mergePatch(paths.rayJob(namespace, name), { spec: { suspend: true } }, signal);
        } catch (err) {
          if (err instanceof KubeApiError && err.status === 422) {
            throw new RayMcpError(
              'conflict',
              `KubeRay refused to suspend ${what}: ${err.detail.slice(0, 300)}`,
              'Only a RayJob with its own cluster (shutdownAfterJobFinishes) can be suspended; use mode "stop" instead.',
            );
          }
          throw kubeError(err, client.context, `suspending ${what}`);
        }
        return;
      }
      // stop: through the dashboard of the RayJob's cluster.
      const { jobId } = input.summary;
      const rayClusterName = input.summary.rayClusterName ?? input.summary.clusterSelector;
      if (!input.server || !rayClusterName || !jobId) {
        throw new RayMcpError(
          'conflict',
          `${what} has no Ray job yet (${input.summary.deploymentStatus ?? 'new'}), so there is nothing to stop.`,
          'Suspend it (mode "suspend") or delete it (mode "delete") instead.',
        );
      }
      const url = paths.dashboardProxy(input.server, namespace, `${rayClusterName}-head-svc`);
      // Through this connection's client only; a one-off, so what it learns goes right after.
      const owner = `rayjob:${input.connectionId}:${namespace}/${name}@${rayClusterName}`;
      const dashboard = dashboards.client(
        { url, connectionId: input.connectionId, owner },
        { timeoutMs: 10_000 },
      );
      try {
        await dashboard.stopJob(jobId, signal);
      } catch (err) {
        if (err instanceof DashboardHttpError && err.status === 404) {
          throw new RayMcpError(
            'not_found',
            `The dashboard of ${rayClusterName} does not know job ${jobId}.`,
            'It may have ended already: inspect_ray_job shows its status.',
          );
        }
        throw dashboardError(url, err);
      } finally {
        dashboards.drop(owner);
      }
    }),
  };
}
