/**
 * The I/O behind RayService actors: server-side apply after a dry run (the dry run's object
 * against the live one says what would change; nothing changed, nothing sent), and delete.
 */
import { fromPromise } from 'xstate';
import { deleteObject, KubeApiError, kubeApplyError } from '../clients/kube.client.js';
import { RayMcpError } from '../domain/errors.js';
import { FIELD_MANAGER, paths } from '../domain/kuberay.js';
import type { RayServiceApplyResult } from '../domain/rayservice.js';
import { objectDiff, summarizeRayService } from '../domain/rayservice.js';
import type { KubeClients } from './kube.actor.js';

export function rayServiceActors(deps: { clients: KubeClients }) {
  const { clients } = deps;
  return {
    applyRayService: fromPromise<
      RayServiceApplyResult,
      { connectionId: string; manifest: Record<string, unknown>; dryRun: boolean }
    >(async ({ input, signal }) => {
      const client = clients.require(input.connectionId);
      const meta = input.manifest.metadata as { name: string; namespace: string };
      const path = paths.rayService(meta.namespace, meta.name);
      try {
        const existing = await client.get(path, { signal }).catch((err) => {
          if (
            err instanceof KubeApiError &&
            err.status === 404 &&
            !/could not find the requested/i.test(err.detail)
          )
            return undefined;
          throw err;
        });
        if (existing && !summarizeRayService(existing).managedByUs) {
          throw new RayMcpError(
            'conflict',
            `A RayService ${meta.namespace}/${meta.name} exists and ray-mcp did not create it.`,
            'Pick another name; ray-mcp changes only the RayServices it created.',
          );
        }
        const dry = await client.apply(path, input.manifest, {
          fieldManager: FIELD_MANAGER,
          dryRun: true,
          signal,
        });
        const diff = existing ? objectDiff(existing, dry) : [];
        if (input.dryRun || (existing && diff.length === 0)) {
          return {
            created: !existing,
            changed: !existing || diff.length > 0,
            diff,
            summary: summarizeRayService(existing && diff.length === 0 ? existing : dry),
          };
        }
        const obj = await client.apply(path, input.manifest, { fieldManager: FIELD_MANAGER, signal });
        return { created: !existing, changed: true, diff, summary: summarizeRayService(obj) };
      } catch (err) {
        if (err instanceof RayMcpError) throw err;
        throw kubeApplyError(err, client.context, 'RayService', meta.namespace, meta.name);
      }
    }),

    deleteRayService: fromPromise<
      void,
      { connectionId: string; namespace: string; name: string; uid?: string }
    >(({ input, signal }) =>
      deleteObject(clients.require(input.connectionId), paths.rayService(input.namespace, input.name), {
        what: `RayService ${input.namespace}/${input.name}`,
        uid: input.uid,
        lookAgain: 'list_serve_apps',
        signal,
      }),
    ),
  };
}
