/**
 * The I/O behind Kubernetes connections: build the client for a target, check the API answers
 * and what the user may do, describe the cluster, probe its health. Clients live in a registry
 * keyed by connection id, shared with the cluster actors, the informers and the dashboards behind
 * the API server's service proxy (looked up per request); snapshots never hold one (they must stay
 * serializable for the inspector). A connection that disconnects closes its client: nothing more
 * goes out with it, and its cloud token goes too.
 */
import { fromEventObservable, fromPromise } from 'xstate';
import {
  KubeApiError,
  KubeClient,
  type KubeList,
  type KubeObject,
  kubeError,
} from '../clients/kube.client.js';
import type { Config } from '../config.js';
import { RayMcpError } from '../domain/errors.js';
import type { KubeTarget, KubeTokenSource } from '../domain/kube.js';
import { paths, RAY_GROUP } from '../domain/kuberay.js';
import type { SecretSink } from '../domain/redact.js';
import type {
  KubeConnected,
  KubeHealthEvent,
  KubeInfo,
  KubeSession,
} from '../machines/kube-connection.machine.js';
import { lazy } from '../watchers/lazy.js';

export class KubeClients {
  private readonly clients = new Map<string, KubeClient>();

  get(id: string): KubeClient | undefined {
    return this.clients.get(id);
  }

  get size(): number {
    return this.clients.size;
  }

  /** The client of a connection, or a clear error when it is gone. */
  require(id: string): KubeClient {
    const c = this.clients.get(id);
    if (!c) {
      throw new RayMcpError(
        'unavailable',
        `Kubernetes connection ${id} is not connected.`,
        'Connect again with connect_kubernetes_cluster.',
      );
    }
    return c;
  }

  async set(id: string, client: KubeClient): Promise<void> {
    const old = this.clients.get(id);
    this.clients.set(id, client);
    if (old && old !== client) await old.close();
  }

  async delete(id: string): Promise<void> {
    const old = this.clients.get(id);
    this.clients.delete(id);
    await old?.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}

const HEALTH_INTERVAL_MS = 5000;
const LOST_INTERVAL_MS = 1000;

export function kubeActors(deps: {
  config: Config;
  clients: KubeClients;
  tokens?: KubeTokenSource;
  secrets?: SecretSink;
}) {
  const { config, clients } = deps;

  return {
    connectKube: fromPromise<KubeConnected, { id: string; target: KubeTarget }>(async ({ input, signal }) => {
      const client = await KubeClient.forTarget(input.target, {
        kubeconfigPaths: config.kubeconfigPaths,
        inCluster: config.inCluster,
        tokens: deps.tokens,
        secrets: deps.secrets,
      });
      const where = input.target.kind === 'kubeconfig' ? `context ${input.target.context}` : input.id;
      let version: string;
      try {
        const v = await client.get<{ gitVersion: string }>('/version', { signal, timeoutMs: 10_000 });
        version = v.gitVersion;
        // /version is public: check the credentials with a call that needs them.
        await client.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
          body: selfReview('list', RAY_GROUP, 'rayclusters'),
          signal,
        });
      } catch (err) {
        await client.close();
        throw kubeError(err, where, 'connecting');
      }
      let clusterWide = false;
      let crdsInstalled = true;
      try {
        await client.get<KubeList>(paths.rayClusters(), { query: { limit: 1 }, signal });
        clusterWide = true;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) crdsInstalled = false;
        else if (!(err instanceof KubeApiError && err.status === 403)) {
          await client.close();
          throw kubeError(err, where, 'listing RayClusters');
        }
      }
      if (signal.aborted) {
        await client.close();
        throw new RayMcpError('unavailable', `Connecting to ${where} was cancelled.`, 'Connect again.');
      }
      await clients.set(input.id, client);
      const session: KubeSession = {
        server: client.server,
        context: client.context,
        namespace: client.defaultNamespace,
        version,
        clusterWide,
        crdsInstalled,
      };
      return { session, connectedAt: Date.now() };
    }),

    closeKube: fromPromise<void, { id: string }>(async ({ input }) => {
      await clients.delete(input.id);
    }),

    describeKube: fromPromise<KubeInfo, { id: string }>(async ({ input, signal }) => {
      const client = clients.require(input.id);
      const problems: string[] = [];
      const unreadable: KubeInfo['unreadable'] = [];
      const soft = async <T>(
        what: string,
        part: KubeInfo['unreadable'][number]['part'],
        f: () => Promise<T>,
      ): Promise<T | undefined> => {
        try {
          return await f();
        } catch (err) {
          const e = kubeError(err, client.context, what);
          if (e instanceof RayMcpError && (e.code === 'unavailable' || e.code === 'unauthenticated')) throw e;
          problems.push(`${what}: ${e.message.split('\n')[0]}`);
          // Forbidden is not absent: say which part could not be read, and why.
          const reason =
            err instanceof KubeApiError
              ? `${err.status === 403 ? 'forbidden' : `${err.status} ${err.reason}`}: ${err.detail}`.slice(
                  0,
                  300,
                )
              : e.message.slice(0, 300);
          unreadable.push({ part, reason });
          return undefined;
        }
      };
      const [version, nodes, namespaces, crds, operators] = await Promise.all([
        client.get<{ gitVersion: string; platform?: string }>('/version', { signal }).catch((err) => {
          throw kubeError(err, client.context, 'reading the version');
        }),
        soft('listing nodes', 'nodes', () =>
          client.get<KubeList>('/api/v1/nodes', { query: { limit: 500 }, signal }),
        ),
        soft('listing namespaces', 'namespaces', () =>
          client.get<KubeList>('/api/v1/namespaces', { query: { limit: 200 }, signal }),
        ),
        soft('reading the KubeRay CRDs', 'crds', () =>
          client.get<KubeList>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
            query: { fieldSelector: undefined, limit: 500 },
            signal,
          }),
        ),
        soft('looking for the KubeRay operator', 'operator', () =>
          client.get<KubeList>('/apis/apps/v1/deployments', {
            query: { labelSelector: 'app.kubernetes.io/name=kuberay-operator', limit: 10 },
            signal,
          }),
        ),
      ]);
      const nodeItems = nodes?.items ?? [];
      const gpus: Record<string, number> = {};
      let cpu = 0;
      let mem = 0;
      for (const n of nodeItems) {
        const alloc = n.status?.allocatable ?? {};
        cpu += parseCpu(alloc.cpu);
        mem += parseMemGi(alloc.memory);
        const count = Number(alloc['nvidia.com/gpu'] ?? 0);
        if (count) {
          const type =
            n.metadata.labels?.['cloud.google.com/gke-accelerator'] ??
            n.metadata.labels?.['nvidia.com/gpu.product'] ??
            n.metadata.labels?.['node.kubernetes.io/instance-type'] ??
            'nvidia.com/gpu';
          gpus[type] = (gpus[type] ?? 0) + count;
        }
      }
      const rayCrds = crds
        ? crds.items
            .filter((c) => c.spec?.group === RAY_GROUP)
            .map((c) => ({
              name: c.metadata.name,
              versions: (c.spec?.versions ?? [])
                .filter((v: { served: boolean }) => v.served)
                .map((v: { name: string }) => v.name),
            }))
        : await rayCrdsFromDiscovery(client, signal);
      const op = operators?.items[0];
      const image: string | undefined = op?.spec?.template?.spec?.containers?.[0]?.image;
      return {
        fetchedAt: Date.now(),
        version: version.gitVersion,
        platform: version.platform,
        nodes: {
          total: nodeItems.length,
          ready: nodeItems.filter((n) =>
            (n.status?.conditions ?? []).some(
              (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
            ),
          ).length,
          cpu: Math.round(cpu * 10) / 10,
          memoryGi: Math.round(mem),
          gpus,
          sample: nodeItems.slice(0, 5).map((n) => n.metadata.name),
        },
        namespaces: (namespaces?.items ?? []).map((n) => n.metadata.name).slice(0, 100),
        namespacesTruncated: (namespaces?.items.length ?? 0) > 100 || Boolean(namespaces?.metadata.continue),
        crds: rayCrds,
        operator: op && {
          namespace: op.metadata.namespace ?? '',
          name: op.metadata.name,
          image,
          version: image?.split(':')[1],
          ready: (op.status?.readyReplicas ?? 0) > 0 || (op.status?.availableReplicas ?? 0) > 0,
        },
        problems,
        unreadable,
      };
    }),

    healthProbe: fromEventObservable<KubeHealthEvent, { connectionId: string }>(({ input }) =>
      lazy(async () => {
        const rx = await import('rxjs');
        const probe = async (): Promise<Omit<KubeHealthEvent, 'at'>> => {
          const client = clients.get(input.connectionId);
          if (!client) return { type: 'kube.health', ok: false, message: 'no client' };
          try {
            // Needs valid credentials (so a 401 shows expiry) but no rights (any user may review itself).
            await client.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
              body: selfReview('get', '', 'namespaces'),
              timeoutMs: 4000,
            });
            return { type: 'kube.health', ok: true };
          } catch (err) {
            if (err instanceof KubeApiError) {
              // Answering at all means reachable; only 401 is news for the connection.
              return err.status === 401
                ? { type: 'kube.health', ok: false, status: 401, message: err.message }
                : { type: 'kube.health', ok: true };
            }
            return {
              type: 'kube.health',
              ok: false,
              message: err instanceof Error ? err.message : String(err),
            };
          }
        };
        // Probe every 5 s while healthy, every second while not; emit only changes.
        return new rx.Observable<KubeHealthEvent>((sub) => {
          let last: string | undefined;
          let timer: NodeJS.Timeout | undefined;
          let closed = false;
          const tick = async () => {
            const e: KubeHealthEvent = { ...(await probe()), at: Date.now() };
            if (closed) return;
            const key = `${e.ok}:${e.status ?? ''}`;
            if (key !== last) {
              last = key;
              sub.next(e);
            }
            timer = setTimeout(tick, e.ok ? HEALTH_INTERVAL_MS : LOST_INTERVAL_MS);
          };
          timer = setTimeout(tick, HEALTH_INTERVAL_MS);
          return () => {
            closed = true;
            clearTimeout(timer);
          };
        });
      }),
    ),
  };
}

/**
 * The ray.io resources the API serves, from API discovery (which every authenticated user may
 * read): what a user who may not list CRDs can still learn. Undefined when discovery fails too.
 */
async function rayCrdsFromDiscovery(
  client: KubeClient,
  signal: AbortSignal,
): Promise<{ name: string; versions: string[] }[] | undefined> {
  try {
    const list = await client.get<{ resources?: { name: string }[] }>(`/apis/${RAY_GROUP}/v1`, { signal });
    return (list.resources ?? [])
      .filter((r) => !r.name.includes('/'))
      .map((r) => ({ name: `${r.name}.${RAY_GROUP}`, versions: ['v1'] }));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return [];
    return undefined;
  }
}

function selfReview(verb: string, group: string, resource: string) {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { verb, group, resource } },
  };
}

function parseCpu(q: string | undefined): number {
  if (!q) return 0;
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q) || 0;
}

function parseMemGi(q: string | undefined): number {
  if (!q) return 0;
  const m = /^(\d+(?:\.\d+)?)([KMGTE]i?)?$/.exec(q);
  if (!m) return 0;
  const n = Number(m[1]);
  const unit: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return (n * (m[2] ? (unit[m[2]] ?? 1) : 1)) / 2 ** 30;
}

export type { KubeObject };
