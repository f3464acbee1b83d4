/**
 * Informers for RayClusters, RayJobs, RayServices and Ray pods of one namespace (or all), as one rxjs stream
 * of actor events. Each resource: list, then watch from the list's resourceVersion with
 * bookmarks; a clean close re-watches; 410 Gone re-lists at once, and any other error re-lists
 * after a capped backoff (0.5 s doubling to 30 s, or to 2 s while the server is down or answers
 * 5xx; reset once a list succeeds) and says so in a `k8s.watchError` event. A relist replaces the actor's view wholesale, so nothing that changed meanwhile is missed.
 */
import type { Observable } from 'rxjs';
import { fromEventObservable } from 'xstate';
import { KubeApiError, type KubeClient, type KubeList, type KubeObject } from '../clients/kube.client.js';
import {
  type InformerEvent,
  type KubeResource,
  type PodSummary,
  paths,
  type RayClusterSummary,
  type RayJobSummary,
  summarizePod,
  summarizeRayCluster,
  summarizeRayJob,
} from '../domain/kuberay.js';
import { type RayServiceSummary, summarizeRayService } from '../domain/rayservice.js';
import { lazy } from './lazy.js';

export type { InformerEvent, KubeResource };

type SummaryOf<R extends KubeResource> = R extends 'rayclusters'
  ? RayClusterSummary
  : R extends 'rayjobs'
    ? RayJobSummary
    : R extends 'rayservices'
      ? RayServiceSummary
      : PodSummary;

const SUMMARIZE: { [R in KubeResource]: (o: KubeObject) => SummaryOf<R> } = {
  rayclusters: summarizeRayCluster,
  rayjobs: summarizeRayJob,
  pods: summarizePod,
  rayservices: summarizeRayService,
};

const PATHS: { [R in KubeResource]: (ns?: string) => string } = {
  rayclusters: paths.rayClusters,
  rayjobs: paths.rayJobs,
  pods: paths.pods,
  rayservices: paths.rayServices,
};

const UNREACHABLE_RETRY_MS = 2000;
/** An operator without the RayService CRD: none to list; look again now and then. */
const NO_CRD_RETRY_MS = 60_000;

export interface InformerOptions {
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

function informer(
  rx: typeof import('rxjs'),
  client: KubeClient,
  resource: KubeResource,
  namespace: string,
  opts: InformerOptions,
): Observable<InformerEvent> {
  const labelSelector = resource === 'pods' ? 'ray.io/cluster' : undefined;
  const path = PATHS[resource](namespace || undefined);
  const summarize = SUMMARIZE[resource] as (o: KubeObject) => never;
  return new rx.Observable<InformerEvent>((subscriber) => {
    const abort = new AbortController();
    const min = opts.minBackoffMs ?? 500;
    const max = opts.maxBackoffMs ?? 30_000;
    let backoff = min;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        // One listener per sleep, removed when the sleep ends: a long outage must not pile them up.
        const done = () => {
          clearTimeout(t);
          abort.signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, ms);
        abort.signal.addEventListener('abort', done, { once: true });
      });
    (async () => {
      while (!abort.signal.aborted) {
        try {
          const list = await client.get<KubeList>(path, {
            query: { labelSelector, limit: 5000 },
            signal: abort.signal,
          });
          backoff = min;
          let rv = list.metadata.resourceVersion;
          subscriber.next({
            type: 'k8s.synced',
            resource,
            namespace,
            items: list.items.map(summarize),
          } as InformerEvent);
          // Watch until the server closes (re-watch from the last version) or something fails (re-list).
          while (!abort.signal.aborted) {
            await client.watch(
              path,
              { labelSelector, resourceVersion: rv },
              (e) => {
                rv = e.object.metadata?.resourceVersion ?? rv;
                if (e.type === 'BOOKMARK') return;
                if (e.type === 'DELETED') {
                  subscriber.next({
                    type: 'k8s.delete',
                    resource,
                    namespace: e.object.metadata.namespace ?? '',
                    name: e.object.metadata.name,
                  });
                } else {
                  subscriber.next({
                    type: 'k8s.upsert',
                    resource,
                    item: summarize(e.object),
                  } as InformerEvent);
                }
              },
              abort.signal,
            );
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          const status = err instanceof KubeApiError ? err.status : undefined;
          // RayServices are optional: without their CRD there are none (the other resources say what is missing).
          if (resource === 'rayservices' && status === 404) {
            subscriber.next({ type: 'k8s.synced', resource, namespace, items: [] });
            await sleep(NO_CRD_RETRY_MS);
            continue;
          }
          // 410: our version is too old; relist at once. An API server that is down or starting
          // (no answer, 5xx) is retried every 2 s at most, so the cache is whole again soon after it
          // is back; other refusals back off up to `max`.
          const transient = status === undefined || status >= 500;
          // A user who may not list RayServices keeps every other tool: asked again rarely.
          const wait =
            status === 410
              ? 0
              : transient
                ? Math.min(backoff, UNREACHABLE_RETRY_MS)
                : resource === 'rayservices' && status === 403
                  ? NO_CRD_RETRY_MS
                  : backoff;
          if (status !== 410) backoff = Math.min(max, backoff * 2);
          subscriber.next({
            type: 'k8s.watchError',
            resource,
            namespace,
            status,
            // The API server's own words (a Status message names the verb, resource and namespace).
            message: (err instanceof KubeApiError
              ? err.detail
              : err instanceof Error
                ? err.message
                : String(err)
            ).slice(0, 500),
            retryInMs: wait,
            at: Date.now(),
          });
          if (wait) await sleep(wait);
        }
      }
    })();
    return () => abort.abort();
  });
}

/** All four informers of one namespace ('' = all namespaces) of a connection. */
export function kubeInformerLogic(deps: {
  clientOf(connectionId: string): KubeClient | undefined;
  options?: InformerOptions;
}) {
  return fromEventObservable<InformerEvent, { connectionId: string; namespace: string }>(({ input }) =>
    lazy(async () => {
      const rx = await import('rxjs');
      const client = deps.clientOf(input.connectionId);
      if (!client) return rx.EMPTY;
      const resources: KubeResource[] = ['rayclusters', 'rayjobs', 'pods', 'rayservices'];
      return rx.merge(...resources.map((r) => informer(rx, client, r, input.namespace, deps.options ?? {})));
    }),
  );
}
