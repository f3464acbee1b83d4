/**
 * One connection to a Kubernetes API server (a kubeconfig context or a managed cloud cluster).
 *
 *   disconnected ─connect─▶ connecting ─▶ online(connected ─unreachable─▶ lost ─reachable─▶ reconnecting ─resynced─▶ connected)
 *                              └──▶ failed ◀── 401 from the API (credentials expired or invalid) ──┘
 *
 * While online it runs the informers of the namespaces it watches (all, when the user may list
 * cluster-wide) and a health probe. It keeps a compact cache of RayClusters, RayJobs and Ray
 * pods, and forwards what concerns a tracked cluster to that cluster's actor.
 */
import {
  type ActorRefFrom,
  assign,
  type EventObject,
  enqueueActions,
  fromCallback,
  fromEventObservable,
  fromPromise,
  type SnapshotFrom,
  setup,
} from 'xstate';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';
import { type KubeTarget, rbacDenial } from '../domain/kube.js';
import type { KubeEventsRead } from '../domain/kube-events.js';
import type {
  InformerEvent,
  KubeResource,
  PodSummary,
  RayClusterSummary,
  RayJobSummary,
} from '../domain/kuberay.js';
import type { RayServiceSummary } from '../domain/rayservice.js';
import { type ChildErrorEvent, errorOf } from './child-events.js';
import {
  type RayJobActor,
  type RayJobApplied,
  type RayJobFact,
  rayJobMachine,
  rayJobSystemId,
} from './rayjob.machine.js';
import {
  type RayServiceActor,
  type RayServiceAppliedEvent,
  type RayServiceFact,
  rayServiceMachine,
  rayServiceSystemId,
} from './rayservice.machine.js';

export interface KubeSession {
  server: string;
  context: string;
  namespace: string;
  version: string;
  /** The user may list RayClusters in every namespace; else we watch namespace by namespace. */
  clusterWide: boolean;
  crdsInstalled: boolean;
}

/** A session, and when the API server accepted it. */
export interface KubeConnected {
  session: KubeSession;
  connectedAt: number;
}

export interface KubeInfo {
  fetchedAt: number;
  version: string;
  platform?: string;
  nodes: {
    total: number;
    ready: number;
    cpu: number;
    memoryGi: number;
    gpus: Record<string, number>;
    sample: string[];
  };
  namespaces: string[];
  namespacesTruncated: boolean;
  /** Undefined when neither the CRDs nor API discovery could be read. */
  crds?: { name: string; versions: string[] }[];
  operator?: { namespace: string; name: string; image?: string; version?: string; ready: boolean };
  problems: string[];
  /** What could not be read, and why (forbidden is not absent). */
  unreadable: { part: 'nodes' | 'namespaces' | 'crds' | 'operator'; reason: string }[];
}

export type KubeHealthEvent = {
  type: 'kube.health';
  ok: boolean;
  status?: number;
  message?: string;
  /** When the probe got its answer (ms). */
  at: number;
};

export type KubeConnectionCommand =
  | { type: 'kube.connect'; requestId: string }
  | { type: 'kube.awaitConnected'; requestId: string }
  | { type: 'kube.describe'; requestId: string }
  | { type: 'kube.disconnect'; requestId: string }
  | { type: 'kube.watchNamespace'; requestId: string; namespace: string }
  /** Answered once the informers of `namespace` ('' = all) have listed `resource`. */
  | { type: 'kube.awaitSynced'; requestId: string; namespace: string; resource: KubeResource }
  /** Submit a RayJob (manifest) or follow an existing one: a `rayjob:` actor, child of this connection. */
  | {
      type: 'kube.rayJob';
      requestId: string;
      namespace: string;
      name: string;
      manifest?: Record<string, unknown>;
      owned: boolean;
    }
  /** Follow a RayService by name (whether or not it exists): a `rayservice:` actor, child of this connection. */
  | { type: 'kube.rayService'; requestId: string; namespace: string; name: string }
  /** Gives back the hold a kube.rayService took (no answer). */
  | { type: 'kube.releaseRayService'; namespace: string; name: string }
  /** Internal: a RayService is gone; let its actor go if nobody holds it. */
  | { type: 'kube.sweepRayService'; key: string }
  /** Read the events of some objects and of the pods of some Ray clusters (answers KubeEventsRead). */
  | ({ type: 'kube.events'; requestId: string } & Omit<ReadEventsInput, 'connectionId'>);

/** What to read events of: objects by name, and the pods of Ray clusters (by their ray.io/cluster label). */
export interface ReadEventsInput {
  connectionId: string;
  namespace: string;
  names: string[];
  clusters: string[];
  /** Pod names already known (the informer's), read even if the pod list is not allowed. */
  pods?: string[];
}

/** The events reader's one report. */
export type KubeEventsReadEvent = { type: 'kube.eventsRead'; requestId: string; read: KubeEventsRead };

/** From cluster actors: route events about this RayCluster to me. */
export type KubeTrackEvent =
  | { type: 'kube.track'; namespace: string; name: string; systemId: string }
  | { type: 'kube.untrack'; namespace: string; name: string };

export type KubeConnectionEvent =
  | KubeConnectionCommand
  | KubeTrackEvent
  | InformerEvent
  | KubeHealthEvent
  | RayJobApplied
  | RayServiceAppliedEvent
  | KubeEventsReadEvent
  | { type: 'system.shutdown' }
  /** Start the informers of a namespace again after they failed. */
  | { type: 'kube.restartInformers'; namespace: string };

/** What cluster actors hear from their connection. */
export type KubeClusterFact =
  | { type: 'k8s.rayCluster'; summary: RayClusterSummary }
  | { type: 'k8s.rayClusterGone' }
  | { type: 'k8s.pods'; pods: PodSummary[] }
  | {
      type: 'kube.link';
      state: 'connected' | 'lost' | 'failed' | 'disconnected';
      message?: string;
      server?: string;
      context?: string;
    };

export interface KubeConnectionInput {
  id: string;
  target: KubeTarget;
}

export interface KubeConnectionContext extends KubeConnectionInput {
  session?: KubeSession;
  connectedAt?: number;
  info?: KubeInfo;
  error?: ErrorInfo;
  lastWatchError?: { resource: KubeResource; namespace: string; message: string; at: number };
  lostAt?: number;
  /** The last child (informers, health probe, RayJob actor) that failed and why; it was restarted. */
  internalFailure?: string;
  /** Namespaces with informers; '' is all. */
  namespaces: string[];
  rayClusters: Record<string, RayClusterSummary>;
  rayJobs: Record<string, RayJobSummary>;
  rayServices: Record<string, RayServiceSummary>;
  pods: Record<string, PodSummary>;
  /** `<resource>@<namespace>` → listed since the last loss. */
  synced: Record<string, boolean>;
  /** `<resource>@<namespace>` → why its last list was forbidden (until a list succeeds). */
  forbidden: Record<string, string>;
  tracked: Record<string, string>;
  /** RayJobs with an actor: `ns/name` → the actor's systemId. */
  rayJobActors: Record<string, string>;
  /** RayServices with an actor: `ns/name` → the actor's systemId. */
  rayServiceActors: Record<string, string>;
  /**
   * `ns/name` → how many calls hold its actor (each kube.rayService takes one, each
   * kube.releaseRayService gives one back; a resource watch keeps its own). An actor is let go only
   * when nobody holds it and its object is not there.
   */
  rayServiceLeases: Record<string, number>;
  /** Numbers the actors of a RayJob name that was deleted and made again. */
  rayJobSeq: number;
  waiting: string[];
  describeWaiting: string[];
  syncWaiting: { requestId: string; key: string }[];
}

/** A list the API server forbids: the whole message (it names the verb, resource and namespace). */
function forbiddenError(
  context: KubeConnectionContext,
  resource: string,
  namespace: string,
  message: string,
): ErrorInfo {
  const denial = rbacDenial(message);
  return {
    code: 'forbidden',
    message: `Not allowed on ${context.session?.context ?? context.id}: listing ${resource} in ${namespace ? `namespace ${namespace}` : 'all namespaces'} is forbidden${denial ? `: ${denial.text}` : ''}. ${message}`,
    fix:
      denial?.fix ??
      'Use a namespace these credentials may read, or ask a cluster admin for list/watch rights on that resource there.',
  };
}

export const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const informerId = (ns: string) => `informers:${ns || '*'}`;
/** Pause before failed informers are started again. */
const INFORMER_RESTART_MS = 2000;

function podsOf(context: KubeConnectionContext, key: string): PodSummary[] {
  const [ns, cluster] = key.split('/') as [string, string];
  return Object.entries(context.pods)
    .filter(([k, p]) => k.startsWith(`${ns}/`) && p.cluster === cluster)
    .map(([, p]) => p);
}

/** Replace the entries of one namespace scope ('' = all) of a cache. */
function replaceScope<T>(
  cache: Record<string, T>,
  namespace: string,
  items: T[],
  keyFn: (t: T) => string,
): Record<string, T> {
  const next: Record<string, T> = {};
  for (const [k, v] of Object.entries(cache)) if (namespace && !k.startsWith(`${namespace}/`)) next[k] = v;
  for (const item of items) next[keyFn(item)] = item;
  return next;
}

export const kubeConnectionMachine = setup({
  types: {
    context: {} as KubeConnectionContext,
    input: {} as KubeConnectionInput,
    events: {} as KubeConnectionEvent | ChildErrorEvent,
    emitted: {} as Answer,
  },
  actors: {
    connectKube: fromPromise<KubeConnected, { id: string; target: KubeTarget }>(async () => {
      throw new Error('provided by src/actors/kube.actor.ts');
    }),
    describeKube: fromPromise<KubeInfo, { id: string }>(async () => {
      throw new Error('provided by src/actors/kube.actor.ts');
    }),
    closeKube: fromPromise<void, { id: string }>(async () => {}),
    informers: fromEventObservable<InformerEvent, { connectionId: string; namespace: string }>(() => {
      throw new Error('provided by src/watchers/kube-informer.watcher.ts');
    }),
    healthProbe: fromEventObservable<KubeHealthEvent, { connectionId: string }>(() => {
      throw new Error('provided by src/actors/kube.actor.ts');
    }),
    rayJob: rayJobMachine,
    rayService: rayServiceMachine,
    readEvents: fromCallback<EventObject, ReadEventsInput & { requestId: string }>(() => {
      throw new Error('provided by src/actors/kube-events.actor.ts');
    }),
  },
  guards: {
    unauthorized: ({ event }) =>
      (event.type === 'kube.health' && !event.ok && event.status === 401) ||
      (event.type === 'k8s.watchError' && event.status === 401),
    unreachable: ({ event }) => event.type === 'kube.health' && !event.ok && event.status === undefined,
    reachable: ({ event }) => event.type === 'kube.health' && event.ok,
    /** No cluster tracks this connection and it follows no RayJob: nothing needs it once it failed. */
    unused: ({ context }) => isUnused(context),
    /** The untrack about to be applied leaves the connection unused. */
    lastUntrack: ({ context, event }) => {
      if (event.type !== 'kube.untrack') return false;
      const { [keyOf(event.namespace, event.name)]: _, ...tracked } = context.tracked;
      return isUnused({ ...context, tracked });
    },
    allSynced: ({ context }) =>
      context.namespaces.every((ns) =>
        ['rayclusters', 'rayjobs', 'pods'].every((r) => context.synced[`${r}@${ns}`]),
      ),
  },
  actions: {
    wait: assign({
      waiting: ({ context, event }) =>
        'requestId' in event ? [...context.waiting, event.requestId] : context.waiting,
    }),
    waitDescribe: assign({
      describeWaiting: ({ context, event }) =>
        'requestId' in event ? [...context.describeWaiting, event.requestId] : context.describeWaiting,
    }),
    /** A disconnect ends every wait: whoever waited for the link or a describe hears why. */
    refuseAllWaiting: enqueueActions(({ context, enqueue }) => {
      const error = {
        code: 'unavailable' as const,
        message: `Kubernetes connection ${context.id} was disconnected.`,
        fix: 'Connect again with connect_kubernetes_cluster.',
      };
      for (const id of [...context.waiting, ...context.describeWaiting]) enqueue.emit(answerError(id, error));
      enqueue.assign({ waiting: [], describeWaiting: [] });
    }),
    answerNow: enqueueActions(({ event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerOk(event.requestId));
    }),
    refuseNotConnected: enqueueActions(({ context, event, enqueue }) => {
      if (!('requestId' in event)) return;
      enqueue.emit(
        answerError(
          event.requestId,
          context.error ?? {
            code: 'unavailable',
            message: `Kubernetes connection ${context.id} is not connected.`,
            fix: 'Connect with connect_kubernetes_cluster.',
          },
        ),
      );
    }),
    answerWaiting: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting)
        enqueue.emit(context.error ? answerError(id, context.error) : answerOk(id));
      enqueue.assign({ waiting: [] });
    }),
    noteChildFailure: assign((_, { error }: { error: unknown }) => ({
      internalFailure: `health probe: ${toErrorInfo(error).message}`,
    })),
    assignConnected: assign((_, { session, connectedAt }: KubeConnected) => ({ session, connectedAt })),
    markLost: assign((_, at: number) => ({ lostAt: at })),
    childFailed: enqueueActions(({ enqueue, self }, { id, error }: { id: string; error: unknown }) => {
      const message = toErrorInfo(error).message;
      if ((self.getSnapshot().children as Record<string, unknown>)[id]) enqueue.stopChild(id);
      if (id.startsWith('informers:')) {
        const namespace = id === 'informers:*' ? '' : id.slice('informers:'.length);
        enqueue.raise({ type: 'kube.restartInformers', namespace }, { delay: INFORMER_RESTART_MS });
      }
      // An events reader that failed still answers its request, with why.
      if (id.startsWith('events:')) {
        const note = `events not read: ${message.slice(0, 200)}`;
        enqueue.emit(answerOk(id.slice('events:'.length), { events: [], note }));
      }
      enqueue.assign({ internalFailure: `${id}: ${message}` });
    }),
    restartInformers: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'kube.restartInformers') return;
      const id = informerId(event.namespace);
      const online = (self.getSnapshot() as { matches(v: string): boolean }).matches('online');
      if (!online || (self.getSnapshot().children as Record<string, unknown>)[id]) return;
      enqueue.spawnChild('informers', {
        id,
        input: { connectionId: context.id, namespace: event.namespace },
      });
    }),
    startInformers: enqueueActions(({ context, enqueue }) => {
      const namespaces = context.session?.clusterWide
        ? ['']
        : [...new Set([context.session?.namespace ?? 'default', ...context.namespaces.filter(Boolean)])];
      for (const ns of namespaces) {
        enqueue.spawnChild('informers', {
          id: informerId(ns),
          input: { connectionId: context.id, namespace: ns },
        });
      }
      enqueue.assign({ namespaces, synced: {} });
    }),
    stopInformers: enqueueActions(({ context, enqueue }) => {
      for (const ns of context.namespaces) enqueue.stopChild(informerId(ns));
    }),
    spawnRayJob: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== 'kube.rayJob') return;
      const key = keyOf(event.namespace, event.name);
      const current = context.rayJobActors[key];
      // An actor whose RayJob was deleted (or never made) gives way: the name may be in use again.
      const live = current ? (system.get(current) as RayJobActor | undefined)?.getSnapshot() : undefined;
      const stale =
        current !== undefined &&
        (live?.status !== 'active' || live.matches('gone') || live.matches('failed'));
      if (stale) enqueue.stopChild(current);
      const id = stale
        ? `${rayJobSystemId(context.id, event.namespace, event.name)}#${context.rayJobSeq + 1}`
        : rayJobSystemId(context.id, event.namespace, event.name);
      if (current && !stale) {
        if (event.manifest) {
          enqueue.emit(
            answerError(event.requestId, {
              code: 'conflict',
              message: `ray-mcp already follows a RayJob ${key}.`,
              fix: 'Pick another name, or inspect it with inspect_ray_job (rayjob=name).',
            }),
          );
          return;
        }
        enqueue.emit(answerOk(event.requestId, { systemId: current }));
        return;
      }
      enqueue.spawnChild('rayJob', {
        id,
        systemId: id,
        input: {
          connectionId: context.id,
          namespace: event.namespace,
          name: event.name,
          manifest: event.manifest,
          owned: event.owned,
          summary: event.manifest ? undefined : context.rayJobs[key],
          server: context.session?.server,
        },
      });
      enqueue.assign({
        rayJobActors: { ...context.rayJobActors, [key]: id },
        rayJobSeq: stale ? context.rayJobSeq + 1 : context.rayJobSeq,
      });
      enqueue.emit(answerOk(event.requestId, { systemId: id }));
    }),
    spawnRayService: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'kube.rayService') return;
      const key = keyOf(event.namespace, event.name);
      const current = context.rayServiceActors[key];
      const rayServiceLeases = {
        ...context.rayServiceLeases,
        [key]: (context.rayServiceLeases[key] ?? 0) + 1,
      };
      enqueue.assign({ rayServiceLeases });
      if (current) {
        enqueue.emit(answerOk(event.requestId, { systemId: current }));
        return;
      }
      const id = rayServiceSystemId(context.id, event.namespace, event.name);
      enqueue.spawnChild('rayService', {
        id,
        systemId: id,
        input: {
          connectionId: context.id,
          namespace: event.namespace,
          name: event.name,
          summary: context.rayServices[key],
        },
      });
      enqueue.assign({ rayServiceActors: { ...context.rayServiceActors, [key]: id } });
      enqueue.emit(answerOk(event.requestId, { systemId: id }));
    }),
    releaseRayService: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== 'kube.releaseRayService') return;
      const key = keyOf(event.namespace, event.name);
      const id = context.rayServiceActors[key];
      if (!id) return;
      const held = Math.max(0, (context.rayServiceLeases[key] ?? 0) - 1);
      const rayServiceLeases = { ...context.rayServiceLeases, [key]: held };
      enqueue.assign({ rayServiceLeases });
      // Another call holds it, or its object is there: it stays.
      if (held > 0 || context.rayServices[key]) return;
      if (rayServiceIdle(system.get(id) as RayServiceActor | undefined)) {
        enqueue.stopChild(id);
        enqueue.assign(dropRayService(context.rayServiceActors, rayServiceLeases, key));
      }
    }),
    /** A RayService went away: its actor goes too if nobody holds it (a slow delete's, say). */
    sweepRayService: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== 'kube.sweepRayService') return;
      const id = context.rayServiceActors[event.key];
      if (!id || (context.rayServiceLeases[event.key] ?? 0) > 0 || context.rayServices[event.key]) return;
      // Its own summary may not say gone yet (the fact is on its way); nobody holds it, so idle is enough.
      const live = (system.get(id) as RayServiceActor | undefined)?.getSnapshot();
      if (live?.status !== 'active' || live.matches('idle')) {
        enqueue.stopChild(id);
        enqueue.assign(dropRayService(context.rayServiceActors, context.rayServiceLeases, event.key));
      }
    }),
    /** Our apply's answer, until the watch brings the object (which then wins). */
    noteServiceApplied: assign({
      rayServices: ({ context, event }) => {
        if (event.type !== 'rayservice.applied') return context.rayServices;
        const key = keyOf(event.summary.namespace, event.summary.name);
        const had = context.rayServices[key];
        return had && had.generation >= event.summary.generation
          ? context.rayServices
          : { ...context.rayServices, [key]: event.summary };
      },
    }),
    /** A reader per request, so a slow API server delays only that request. */
    readEvents: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'kube.events') return;
      const { type: _, requestId, ...what } = event;
      enqueue.spawnChild('readEvents', {
        id: `events:${requestId}`,
        input: { ...what, requestId, connectionId: context.id },
      });
    }),
    answerEvents: enqueueActions(({ event, enqueue, self }) => {
      if (event.type !== 'kube.eventsRead') return;
      const id = `events:${event.requestId}`;
      if ((self.getSnapshot().children as Record<string, unknown>)[id]) enqueue.stopChild(id);
      enqueue.emit(answerOk(event.requestId, event.read));
    }),
    /** Our apply's answer, until the watch brings the object (which then wins). */
    noteApplied: assign({
      rayJobs: ({ context, event }) => {
        if (event.type !== 'rayjob.applied') return context.rayJobs;
        const key = keyOf(event.summary.namespace, event.summary.name);
        return context.rayJobs[key] ? context.rayJobs : { ...context.rayJobs, [key]: event.summary };
      },
    }),
    awaitSynced: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'kube.awaitSynced') return;
      const scope = context.namespaces.includes('') ? '' : event.namespace;
      const key = `${event.resource}@${scope}`;
      if (context.synced[key]) enqueue.emit(answerOk(event.requestId));
      // Forbidden does not heal by the informer's retry: say so now, not after its backoff.
      else if (context.forbidden[key])
        enqueue.emit(
          answerError(
            event.requestId,
            forbiddenError(context, event.resource, scope, context.forbidden[key]),
          ),
        );
      else enqueue.assign({ syncWaiting: [...context.syncWaiting, { requestId: event.requestId, key }] });
    }),
    answerSynced: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'k8s.synced') return;
      const key = `${event.resource}@${event.namespace}`;
      const done = context.syncWaiting.filter((w) => w.key === key);
      if (!done.length) return;
      for (const w of done) enqueue.emit(answerOk(w.requestId));
      enqueue.assign({ syncWaiting: context.syncWaiting.filter((w) => w.key !== key) });
    }),
    refuseSyncWaiting: enqueueActions(({ context, enqueue }) => {
      for (const w of context.syncWaiting)
        enqueue.emit(
          answerError(w.requestId, {
            code: 'unavailable',
            message: `Kubernetes connection ${context.id} went away before it listed ${w.key.split('@')[0]}.`,
            fix: 'Connect again with connect_kubernetes_cluster.',
          }),
        );
      enqueue.assign({ syncWaiting: [] });
    }),
    watchNamespace: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'kube.watchNamespace') return;
      if (!context.namespaces.includes('') && !context.namespaces.includes(event.namespace)) {
        enqueue.spawnChild('informers', {
          id: informerId(event.namespace),
          input: { connectionId: context.id, namespace: event.namespace },
        });
        enqueue.assign({ namespaces: [...context.namespaces, event.namespace] });
      }
      enqueue.emit(answerOk(event.requestId));
    }),
    applyInformerEvent: enqueueActions(({ context, event, enqueue }) => {
      const forward = (key: string, fact: KubeClusterFact) => {
        const target = context.tracked[key];
        if (target) enqueue.sendTo(({ system }) => system.get(target), fact);
      };
      const toJob = (key: string, fact: RayJobFact) => {
        const target = context.rayJobActors[key];
        if (target) enqueue.sendTo(({ system }) => system.get(target), fact);
      };
      const toService = (key: string, fact: RayServiceFact) => {
        const target = context.rayServiceActors[key];
        if (target) enqueue.sendTo(({ system }) => system.get(target), fact);
      };
      if (event.type === 'k8s.synced') {
        const synced = { ...context.synced, [`${event.resource}@${event.namespace}`]: true };
        const skey = `${event.resource}@${event.namespace}`;
        if (context.forbidden[skey]) {
          const { [skey]: _, ...forbidden } = context.forbidden;
          enqueue.assign({ forbidden });
        }
        if (event.resource === 'rayclusters') {
          const rayClusters = replaceScope(context.rayClusters, event.namespace, event.items, (c) =>
            keyOf(c.namespace, c.name),
          );
          enqueue.assign({ rayClusters, synced });
          for (const key of Object.keys(context.tracked)) {
            if (event.namespace && !key.startsWith(`${event.namespace}/`)) continue;
            const s = rayClusters[key];
            forward(key, s ? { type: 'k8s.rayCluster', summary: s } : { type: 'k8s.rayClusterGone' });
          }
        } else if (event.resource === 'rayservices') {
          const rayServices = replaceScope(context.rayServices, event.namespace, event.items, (j) =>
            keyOf(j.namespace, j.name),
          );
          enqueue.assign({ rayServices, synced });
          for (const key of Object.keys(context.rayServiceActors)) {
            if (event.namespace && !key.startsWith(`${event.namespace}/`)) continue;
            const j = rayServices[key];
            toService(key, j ? { type: 'k8s.rayService', summary: j } : { type: 'k8s.rayServiceGone' });
            if (!j) enqueue.raise({ type: 'kube.sweepRayService', key });
          }
        } else if (event.resource === 'rayjobs') {
          const rayJobs = replaceScope(context.rayJobs, event.namespace, event.items, (j) =>
            keyOf(j.namespace, j.name),
          );
          enqueue.assign({ rayJobs, synced });
          for (const key of Object.keys(context.rayJobActors)) {
            if (event.namespace && !key.startsWith(`${event.namespace}/`)) continue;
            const j = rayJobs[key];
            toJob(key, j ? { type: 'k8s.rayJob', summary: j } : { type: 'k8s.rayJobGone' });
          }
        } else {
          const pods = replaceScope(context.pods, event.namespace, event.items, (p) =>
            keyOf(p.namespace, p.name),
          );
          enqueue.assign({ pods, synced });
          for (const key of Object.keys(context.tracked)) {
            if (event.namespace && !key.startsWith(`${event.namespace}/`)) continue;
            forward(key, { type: 'k8s.pods', pods: podsOf({ ...context, pods }, key) });
          }
        }
      } else if (event.type === 'k8s.upsert') {
        if (event.resource === 'rayclusters') {
          const key = keyOf(event.item.namespace, event.item.name);
          enqueue.assign({ rayClusters: { ...context.rayClusters, [key]: event.item } });
          forward(key, { type: 'k8s.rayCluster', summary: event.item });
        } else if (event.resource === 'rayjobs') {
          const key = keyOf(event.item.namespace, event.item.name);
          enqueue.assign({ rayJobs: { ...context.rayJobs, [key]: event.item } });
          toJob(key, { type: 'k8s.rayJob', summary: event.item });
        } else if (event.resource === 'rayservices') {
          const key = keyOf(event.item.namespace, event.item.name);
          enqueue.assign({ rayServices: { ...context.rayServices, [key]: event.item } });
          toService(key, { type: 'k8s.rayService', summary: event.item });
        } else {
          const ns = event.item.namespace;
          const pods = { ...context.pods, [keyOf(ns, event.item.name)]: event.item };
          enqueue.assign({ pods });
          const key = keyOf(ns, event.item.cluster);
          forward(key, { type: 'k8s.pods', pods: podsOf({ ...context, pods }, key) });
        }
      } else if (event.type === 'k8s.delete') {
        const key = keyOf(event.namespace, event.name);
        if (event.resource === 'rayclusters') {
          const { [key]: _, ...rayClusters } = context.rayClusters;
          enqueue.assign({ rayClusters });
          forward(key, { type: 'k8s.rayClusterGone' });
        } else if (event.resource === 'rayjobs') {
          const { [key]: _, ...rayJobs } = context.rayJobs;
          enqueue.assign({ rayJobs });
          toJob(key, { type: 'k8s.rayJobGone' });
        } else if (event.resource === 'rayservices') {
          const { [key]: _, ...rayServices } = context.rayServices;
          enqueue.assign({ rayServices });
          toService(key, { type: 'k8s.rayServiceGone' });
          if (context.rayServiceActors[key]) enqueue.raise({ type: 'kube.sweepRayService', key });
        } else {
          const gone = context.pods[key];
          const { [key]: _, ...pods } = context.pods;
          enqueue.assign({ pods });
          if (gone) {
            const ck = keyOf(event.namespace, gone.cluster);
            forward(ck, { type: 'k8s.pods', pods: podsOf({ ...context, pods }, ck) });
          }
        }
      } else if (event.type === 'k8s.watchError') {
        // RayServices are optional: a user who may not list them sees it from the RayService tools only.
        if (event.resource !== 'rayservices')
          enqueue.assign({
            lastWatchError: {
              resource: event.resource,
              namespace: event.namespace,
              message: event.message,
              at: event.at,
            },
          });
        enqueue.assign({ synced: { ...context.synced, [`${event.resource}@${event.namespace}`]: false } });
        // Forbidden does not heal by retrying: whoever waits for this list hears why now, and so
        // does whoever asks later (until a list succeeds).
        if (event.status === 403) {
          const key = `${event.resource}@${event.namespace}`;
          enqueue.assign({ forbidden: { ...context.forbidden, [key]: event.message } });
          const refused = context.syncWaiting.filter((w) => w.key === key);
          for (const w of refused)
            enqueue.emit(
              answerError(
                w.requestId,
                forbiddenError(context, event.resource, event.namespace, event.message),
              ),
            );
          if (refused.length)
            enqueue.assign({ syncWaiting: context.syncWaiting.filter((w) => w.key !== key) });
        }
      }
    }),
    track: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type === 'kube.track') {
        const key = keyOf(event.namespace, event.name);
        enqueue.assign({ tracked: { ...context.tracked, [key]: event.systemId } });
        const s = context.rayClusters[key];
        // The link as it is now: a cluster tracked while the API server is away hears so.
        const status = kubeStatusOf(self.getSnapshot());
        const state =
          status === 'lost' || status === 'failed' || status === 'disconnected'
            ? status
            : status === 'connected'
              ? 'connected'
              : 'lost';
        const facts: KubeClusterFact[] = [
          {
            type: 'kube.link',
            state,
            message: state === 'connected' ? undefined : context.error?.message,
            server: context.session?.server,
            context: context.session?.context,
          },
        ];
        if (s) facts.push({ type: 'k8s.rayCluster', summary: s });
        const pods = podsOf(context, key);
        if (pods.length) facts.push({ type: 'k8s.pods', pods });
        for (const fact of facts) enqueue.sendTo(({ system }) => system.get(event.systemId), fact);
      } else if (event.type === 'kube.untrack') {
        const { [keyOf(event.namespace, event.name)]: _, ...tracked } = context.tracked;
        enqueue.assign({ tracked });
      }
    }),
    tellLink: enqueueActions(
      ({ context, enqueue }, params: { state: 'connected' | 'lost' | 'failed' | 'disconnected' }) => {
        const fact: KubeClusterFact = {
          type: 'kube.link',
          state: params.state,
          message: context.error?.message,
          server: context.session?.server,
          context: context.session?.context,
        };
        for (const target of Object.values(context.tracked))
          enqueue.sendTo(({ system }) => system.get(target), fact);
      },
    ),
    assignUnauthorized: assign({
      error: ({ context }) => ({
        code: 'unauthenticated' as const,
        message: `The API server of ${context.session?.context ?? context.id} rejected the credentials (401 Unauthorized): they are missing, invalid or expired.`,
        fix: 'Refresh the credentials (a new token, `gcloud auth login`, `aws sso login`, ...), then connect_kubernetes_cluster again.',
      }),
    }),
    forget: assign({
      rayClusters: {},
      rayJobs: {},
      rayServices: {},
      pods: {},
      synced: {},
      forbidden: {},
      namespaces: [],
      info: undefined,
    }),
  },
}).createMachine({
  id: 'kubeConnection',
  context: ({ input }) => ({
    ...input,
    namespaces: [],
    rayClusters: {},
    rayJobs: {},
    rayServices: {},
    pods: {},
    synced: {},
    forbidden: {},
    tracked: {},
    rayJobActors: {},
    rayServiceActors: {},
    rayServiceLeases: {},
    rayJobSeq: 0,
    waiting: [],
    describeWaiting: [],
    syncWaiting: [],
  }),
  on: {
    'kube.track': { actions: 'track' },
    'kube.untrack': { actions: 'track' },
    // Informers come back after a pause; a RayJob actor that failed is replaced on its next use.
    'xstate.error.actor.*': {
      actions: { type: 'childFailed', params: ({ event }) => ({ id: event.actorId, error: event.error }) },
    },
    'kube.restartInformers': { actions: 'restartInformers' },
    'kube.eventsRead': { actions: 'answerEvents' },
    'kube.events': { actions: 'refuseNotConnected' },
  },
  initial: 'connecting',
  states: {
    disconnected: {
      entry: [{ type: 'tellLink', params: { state: 'disconnected' } }],
      // The client goes with the connection: nothing more is sent with it.
      invoke: { src: 'closeKube', input: ({ context }) => ({ id: context.id }), onError: {} },
      on: {
        'kube.connect': { target: 'connecting', actions: 'wait' },
        'kube.disconnect': { actions: 'answerNow' },
        'kube.awaitConnected': { actions: 'refuseNotConnected' },
        'kube.describe': { actions: 'refuseNotConnected' },
        'kube.watchNamespace': { actions: 'refuseNotConnected' },
        'kube.awaitSynced': { actions: 'refuseNotConnected' },
        'kube.rayJob': { actions: 'refuseNotConnected' },
        'kube.rayService': { actions: 'refuseNotConnected' },
      },
    },
    connecting: {
      entry: assign({ error: undefined }),
      on: {
        'kube.connect': { actions: 'wait' },
        'kube.awaitConnected': { actions: 'wait' },
        'kube.describe': { actions: 'wait' },
        'kube.watchNamespace': { actions: 'answerNow' },
        'kube.awaitSynced': { actions: 'awaitSynced' },
        'kube.disconnect': { target: 'disconnected', actions: ['answerNow', 'refuseAllWaiting'] },
      },
      invoke: {
        src: 'connectKube',
        input: ({ context }) => ({ id: context.id, target: context.target }),
        onDone: {
          target: 'online',
          actions: { type: 'assignConnected', params: ({ event }) => event.output },
        },
        onError: {
          target: 'failed',
          actions: [
            assign({ error: ({ event }) => toErrorInfo(event.error) }),
            'answerWaiting',
            'refuseSyncWaiting',
          ],
        },
      },
    },
    online: {
      entry: ['startInformers', 'answerWaiting'],
      exit: ['stopInformers', 'refuseSyncWaiting'],
      invoke: {
        src: 'healthProbe',
        input: ({ context }) => ({ connectionId: context.id }),
        // A probe that fails (a bug, not an unreachable server) is replaced by connecting again.
        onError: { target: 'connecting', actions: { type: 'noteChildFailure', params: errorOf } },
      },
      on: {
        'k8s.synced': { actions: ['applyInformerEvent', 'answerSynced'] },
        'k8s.upsert': { actions: 'applyInformerEvent' },
        'k8s.delete': { actions: 'applyInformerEvent' },
        'k8s.watchError': [
          { guard: 'unauthorized', target: 'failed', actions: ['applyInformerEvent', 'assignUnauthorized'] },
          { actions: 'applyInformerEvent' },
        ],
        'kube.watchNamespace': { actions: 'watchNamespace' },
        'kube.awaitSynced': { actions: 'awaitSynced' },
        'kube.rayJob': { actions: 'spawnRayJob' },
        'kube.rayService': { actions: 'spawnRayService' },
        'kube.releaseRayService': { actions: 'releaseRayService' },
        'kube.sweepRayService': { actions: 'sweepRayService' },
        'rayservice.applied': { actions: 'noteServiceApplied' },
        'kube.events': { actions: 'readEvents' },
        'rayjob.applied': { actions: 'noteApplied' },
        'kube.disconnect': { target: 'disconnected', actions: ['answerNow', 'refuseAllWaiting', 'forget'] },
        'kube.connect': { actions: 'answerNow' },
      },
      type: 'parallel',
      states: {
        link: {
          initial: 'connected',
          states: {
            connected: {
              entry: [assign({ lostAt: undefined }), { type: 'tellLink', params: { state: 'connected' } }],
              on: {
                'kube.awaitConnected': { actions: 'answerNow' },
                'kube.health': [
                  { guard: 'unauthorized', target: '#kubeConnection.failed', actions: 'assignUnauthorized' },
                  {
                    guard: 'unreachable',
                    target: 'lost',
                    actions: { type: 'markLost', params: ({ event }) => event.at },
                  },
                ],
              },
            },
            lost: {
              entry: { type: 'tellLink', params: { state: 'lost' } },
              on: {
                'kube.awaitConnected': { actions: 'wait' },
                'kube.health': [
                  { guard: 'unauthorized', target: '#kubeConnection.failed', actions: 'assignUnauthorized' },
                  { guard: 'reachable', target: 'reconnecting' },
                ],
              },
            },
            // Reachable again: wait until every informer has listed afresh, so the cache is whole.
            reconnecting: {
              always: { guard: 'allSynced', target: 'connected', actions: 'answerWaiting' },
              on: {
                'kube.awaitConnected': { actions: 'wait' },
                'kube.health': [
                  { guard: 'unauthorized', target: '#kubeConnection.failed', actions: 'assignUnauthorized' },
                  {
                    guard: 'unreachable',
                    target: 'lost',
                    actions: { type: 'markLost', params: ({ event }) => event.at },
                  },
                ],
              },
            },
          },
        },
        info: {
          initial: 'idle',
          states: {
            idle: { on: { 'kube.describe': { target: 'fetching', actions: 'waitDescribe' } } },
            fetching: {
              on: { 'kube.describe': { actions: 'waitDescribe' } },
              invoke: {
                src: 'describeKube',
                input: ({ context }) => ({ id: context.id }),
                onDone: {
                  target: 'idle',
                  actions: enqueueActions(({ context, event, enqueue }) => {
                    enqueue.assign({ info: event.output, describeWaiting: [] });
                    for (const id of context.describeWaiting) enqueue.emit(answerOk(id));
                  }),
                },
                onError: {
                  target: 'idle',
                  actions: enqueueActions(({ context, event, enqueue }) => {
                    const error = toErrorInfo(event.error);
                    for (const id of context.describeWaiting) enqueue.emit(answerError(id, error));
                    enqueue.assign({ describeWaiting: [] });
                  }),
                },
              },
            },
          },
        },
      },
    },
    // A failed connection nothing depends on is done: it closes its client and ends (its parent
    // drops it, keeping the error within a bound); one a cluster or RayJob needs stays for them.
    failed: {
      entry: ['answerWaiting', { type: 'tellLink', params: { state: 'failed' } }],
      invoke: {
        src: 'closeKube',
        input: ({ context }) => ({ id: context.id }),
        onDone: { guard: 'unused', target: 'closed' },
        onError: { guard: 'unused', target: 'closed' },
      },
      on: {
        'kube.untrack': [{ guard: 'lastUntrack', target: 'closing', actions: 'track' }, { actions: 'track' }],
        'kube.connect': { target: 'connecting', actions: 'wait' },
        'kube.disconnect': { target: 'disconnected', actions: ['answerNow', 'refuseAllWaiting', 'forget'] },
        'kube.awaitConnected': { actions: 'refuseNotConnected' },
        'kube.describe': { actions: 'refuseNotConnected' },
        'kube.watchNamespace': { actions: 'refuseNotConnected' },
        'kube.awaitSynced': { actions: 'refuseNotConnected' },
        'kube.rayJob': { actions: 'refuseNotConnected' },
        'kube.rayService': { actions: 'refuseNotConnected' },
      },
    },
    /** The last cluster let go of a failed connection: close the client (again: it is idempotent), then end. */
    closing: {
      invoke: {
        src: 'closeKube',
        input: ({ context }) => ({ id: context.id }),
        onDone: [{ guard: 'unused', target: 'closed' }, { target: 'failed' }],
        onError: [{ guard: 'unused', target: 'closed' }, { target: 'failed' }],
      },
      on: {
        'kube.connect': { target: 'connecting', actions: 'wait' },
        'kube.awaitConnected': { actions: 'refuseNotConnected' },
        'kube.describe': { actions: 'refuseNotConnected' },
        'kube.watchNamespace': { actions: 'refuseNotConnected' },
        'kube.awaitSynced': { actions: 'refuseNotConnected' },
        'kube.rayJob': { actions: 'refuseNotConnected' },
        'kube.rayService': { actions: 'refuseNotConnected' },
      },
    },
    closed: { type: 'final' },
  },
  output: ({ context }): KubeConnectionOutput => ({ error: context.error }),
});

/** What a connection that ended leaves behind: why it failed. */
export interface KubeConnectionOutput {
  error?: ErrorInfo;
}

/** Not applying, deleting, holding an object or awaited: nothing would be lost by stopping it. */
function rayServiceIdle(actor: RayServiceActor | undefined): boolean {
  const live = actor?.getSnapshot();
  if (live?.status !== 'active') return true;
  return live.matches('idle') && !live.context.summary && live.context.goneWaiting.length === 0;
}

function dropRayService(actors: Record<string, string>, leases: Record<string, number>, key: string) {
  const { [key]: _, ...rayServiceActors } = actors;
  const { [key]: __, ...rayServiceLeases } = leases;
  return { rayServiceActors, rayServiceLeases };
}

function isUnused(
  context: Pick<KubeConnectionContext, 'tracked' | 'rayJobActors' | 'rayServiceActors' | 'rayServices'>,
): boolean {
  return (
    Object.keys(context.tracked).length === 0 &&
    Object.keys(context.rayJobActors).length === 0 &&
    // A RayService actor keeps the connection only while its object exists (a watch may follow it).
    !Object.keys(context.rayServiceActors).some((key) => context.rayServices[key])
  );
}

export type KubeConnectionActor = ActorRefFrom<typeof kubeConnectionMachine>;
export type KubeConnectionSnapshot = SnapshotFrom<typeof kubeConnectionMachine>;
export const kubeSystemId = (id: string) => `kube:${id}`;

export type KubeLinkStatus = 'connecting' | 'connected' | 'lost' | 'reconnecting' | 'failed' | 'disconnected';

// biome-ignore lint/suspicious/noExplicitAny: matches() is typed per machine
export function kubeStatusOf(s: { matches(state: any): boolean }): KubeLinkStatus {
  if (s.matches('connecting')) return 'connecting';
  if (s.matches({ online: { link: 'lost' } })) return 'lost';
  if (s.matches({ online: { link: 'reconnecting' } })) return 'reconnecting';
  if (s.matches('online')) return 'connected';
  if (s.matches('failed') || s.matches('closing') || s.matches('closed')) return 'failed';
  return 'disconnected';
}
