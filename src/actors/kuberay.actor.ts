/** The I/O behind KubeRay cluster actors: server-side apply, scale patches and deletes. */
import { fromPromise } from 'xstate';
import { deleteObject, KubeApiError, kubeApplyError, kubeError } from '../clients/kube.client.js';
import { RayMcpError } from '../domain/errors.js';
import {
  FIELD_MANAGER,
  type KubeRayClusterSpec,
  MAX_SET_ANNOTATION,
  paths,
  type RayClusterSummary,
  rayClusterManifest,
  summarizeRayCluster,
} from '../domain/kuberay.js';
import type { ScaleRequest } from '../machines/kuberay-cluster.machine.js';
import type { KubeClients } from './kube.actor.js';

export function kuberayActors(deps: { clients: KubeClients }) {
  const { clients } = deps;
  return {
    applyRayCluster: fromPromise<RayClusterSummary, { connectionId: string; spec: KubeRayClusterSpec }>(
      async ({ input, signal }) => {
        const client = clients.require(input.connectionId);
        const { namespace, name } = input.spec;
        const path = paths.rayCluster(namespace, name);
        try {
          const existing = await client.get(path, { signal }).catch((err) => {
            if (err instanceof KubeApiError && err.status === 404) return undefined;
            throw err;
          });
          if (existing && !summarizeRayCluster(existing).managedByUs) {
            throw new RayMcpError(
              'conflict',
              `A RayCluster ${namespace}/${name} already exists and ray-mcp did not create it.`,
              'Pick another cluster_name, or use it as it is: inspect_ray_cluster with cluster_id set to its name.',
            );
          }
          const obj = await client.apply(path, rayClusterManifest(input.spec), {
            fieldManager: FIELD_MANAGER,
            signal,
          });
          return summarizeRayCluster(obj);
        } catch (err) {
          throw kubeApplyError(err, client.context, 'RayCluster', namespace, name);
        }
      },
    ),

    patchScale: fromPromise<
      number,
      { connectionId: string; namespace: string; name: string; cr: RayClusterSummary; scale: ScaleRequest }
    >(async ({ input, signal }) => {
      const client = clients.require(input.connectionId);
      const index = input.cr.groups.findIndex((g) => g.name === input.scale.group);
      if (index < 0) {
        throw new RayMcpError(
          'invalid_input',
          `RayCluster ${input.namespace}/${input.name} has no worker group ${input.scale.group}.`,
          `Its worker groups: ${input.cr.groups.map((g) => g.name).join(', ') || '(none)'}.`,
        );
      }
      const base = `/spec/workerGroupSpecs/${index}`;
      const ops: unknown[] = [{ op: 'test', path: `${base}/groupName`, value: input.scale.group }];
      const set = (field: string, value: unknown) => ops.push({ op: 'add', path: `${base}/${field}`, value });
      if (input.scale.replicas !== undefined) set('replicas', input.scale.replicas);
      if (input.scale.minReplicas !== undefined) set('minReplicas', input.scale.minReplicas);
      if (input.scale.maxReplicas !== undefined) set('maxReplicas', input.scale.maxReplicas);
      if (input.scale.workersToDelete?.length)
        set('scaleStrategy', { workersToDelete: input.scale.workersToDelete });
      const marked = input.cr.maxSetGroups;
      if (input.scale.maxSet && marked && !marked.includes(input.scale.group))
        ops.push({
          op: 'add',
          path: `/metadata/annotations/${MAX_SET_ANNOTATION.replace('/', '~1')}`,
          value: [...marked, input.scale.group].join(','),
        });
      try {
        const patched = await client.request('PATCH', paths.rayCluster(input.namespace, input.name), {
          body: ops,
          contentType: 'application/json-patch+json',
          signal,
        });
        // The RayCluster's generation after the patch: the machine waits until its watch shows it.
        return Number(patched.metadata?.generation ?? 0);
      } catch (err) {
        throw kubeError(err, client.context, `scaling RayCluster ${input.namespace}/${input.name}`);
      }
    }),

    // `uid`: the RayCluster this actor knows; one made again under the name since is not deleted.
    deleteRayCluster: fromPromise<
      void,
      { connectionId: string; namespace: string; name: string; uid?: string }
    >(({ input, signal }) =>
      deleteObject(clients.require(input.connectionId), paths.rayCluster(input.namespace, input.name), {
        what: `RayCluster ${input.namespace}/${input.name}`,
        uid: input.uid,
        lookAgain: 'inspect_ray_cluster',
        signal,
      }),
    ),
  };
}
