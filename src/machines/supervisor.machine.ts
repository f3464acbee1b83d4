/**
 * The root of the actor system. It starts the long-lived actors (environment, port allocator,
 * cloud connections), registers every cluster, jobs and Kubernetes connection actor it spawns,
 * runs each tool request as a child of its own, and supervises them all: a child that fails is
 * logged, reported (`failures`) and, for the ones that carry the system, restarted with capped
 * backoff. It leads the shutdown: `system.shutdown` moves it to `stopping`, where (with
 * --on-exit=stop) every cluster is told to stop what it owns, and then, once all have stopped or
 * the time is up, to the final `stopped`.
 */
import { type ActorRefFrom, type AnyActorRef, assign, enqueueActions, fromPromise, setup } from 'xstate';
import type { LocalClusterSpec } from '../domain/cluster.js';
import type { ClusterRecord } from '../domain/cluster-record.js';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';
import type { KubeTarget } from '../domain/kube.js';
import type { KubeRayClusterSpec } from '../domain/kuberay.js';
import type { Operation, OperationProgress } from '../domain/operations.js';
import type { PortRange } from '../domain/ports.js';
import type { ChildDoneEvent, ChildErrorEvent } from './child-events.js';
import { cloudConnectionMachine, cloudSystemId } from './cloud-connection.machine.js';
import { environmentMachine } from './environment.machine.js';
import { externalClusterMachine } from './external-cluster.machine.js';
import { jobsMachine, jobsSystemId } from './jobs.machine.js';
import { type KubeConnectionOutput, kubeConnectionMachine, kubeSystemId } from './kube-connection.machine.js';
import { kuberayClusterMachine } from './kuberay-cluster.machine.js';
import { localClusterMachine } from './local-cluster.machine.js';
import { portAllocatorMachine } from './port-allocator.machine.js';

export type SupervisorCommand =
  /** `keep`: clusters left running (--on-exit=auto: those with running or pending jobs). */
  | { type: 'system.shutdown'; reason: string; keep?: string[] }
  | {
      type: 'cluster.create';
      requestId: string;
      /** Chosen by the user, or `local-N` / `ext-N` / `ray-N`. */
      id?: string;
      /** When the command was sent (ms): the cluster's created_at. */
      at: number;
      local?: { spec: LocalClusterSpec; timeoutMs: number };
      external?: { address: string };
      kuberay?: KubeRayClusterRequest;
    }
  /** Make sure a Kubernetes connection actor exists for `id`, (re)connecting it if it is not online. */
  | { type: 'kube.ensure'; requestId: string; id: string; target: KubeTarget }
  /** At start-up for each cluster in the state file, and to restart a cluster actor that failed. */
  | { type: 'cluster.adopt'; record: ClusterRecord; alive?: boolean; timeoutMs: number }
  /** Drop a cluster actor (and its jobs actor) and every trace of it: a start that left nothing, or a RayCluster no longer tracked. */
  | { type: 'cluster.forget'; clusterId: string }
  /** Run one tool request as a child actor (`request:<requestId>`); its output is the answer. */
  | {
      type: 'request';
      requestId: string;
      operation: Operation;
      /** Longest the flow may wait (no progressToken); absent: as long as asked. */
      capMs?: number;
    }
  /** The caller gave up (timeout, cancelled): stop the request's actor, which aborts its flow. */
  | { type: 'request.cancel'; requestId: string };

export type SupervisorFact =
  | { type: 'cluster.stopped'; clusterId: string }
  /** From the system after each write of the state file: why it cannot be written, or nothing. */
  | { type: 'system.stateFile'; problem?: string; file: string }
  /** A request's progress, relayed to whoever waits for it. */
  | ({ type: 'request.progress'; requestId: string } & OperationProgress)
  /** The backoff of a failed child is over. */
  | { type: 'supervisor.restart'; id: string };

/** What the supervisor tells the outside, beside answers. */
export type SupervisorEmitted =
  | Answer
  | ({ type: 'progress'; requestId: string } & OperationProgress)
  /** A child failed; `restartInMs` is set when it will be restarted. */
  | { type: 'child.failed'; id: string; error: ErrorInfo; restartInMs?: number }
  /** A cluster actor's backoff is over: adopt it again from its last record (the system has it). */
  | { type: 'cluster.restartDue'; clusterId: string };

export interface KubeRayClusterRequest {
  connectionId: string;
  namespace: string;
  name: string;
  /** Absent: attach to an existing RayCluster. */
  spec?: KubeRayClusterSpec;
  owned: boolean;
  timeoutMs: number;
  /**
   * An attached RayCluster's own creation time, shown as its created_at. Which cluster is current
   * still follows when ray-mcp took it on (the event's `at`): a cluster just attached is current.
   */
  createdAt?: number;
}

export interface SupervisorInput {
  startedAt: number;
  onExit: 'auto' | 'stop' | 'keep';
  shutdownTimeoutMs: number;
  portRange: PortRange;
}

export interface ClusterEntry {
  kind: 'local' | 'external' | 'kuberay';
  createdAt: number;
}

/** A child that failed: why, how often, and whether it comes back. */
export interface ChildFailure {
  error: ErrorInfo;
  /** Failures so far (restarts are spaced by the count). */
  count: number;
  /** `restarting` until its backoff is over, then `restarted`; `failed` for children that are not restarted. */
  state: 'restarting' | 'restarted' | 'failed';
}

export type SupervisorActor = ActorRefFrom<typeof supervisorMachine>;

export interface SupervisorContext extends SupervisorInput {
  clusters: Record<string, ClusterEntry>;
  /** Kubernetes connection ids with an actor (system id `kube:<id>`), and what each connects to. */
  connections: string[];
  /**
   * The child id of each connection's actor (connection id → `kube#<slot>`, the lowest free slot).
   * Not `kube:<id>`: a child's id is in the type of its done/error event, XState memoizes transitions
   * per event type for the machine's lifetime, and connection ids are the user's (one per context
   * name tried). Its system id stays `kube:<id>`; failures are recorded under that name.
   */
  kubeActors: Record<string, string>;
  kubeTargets: Record<string, KubeTarget>;
  /** Clusters whose actor reached `stopped`. */
  stopped: string[];
  counter: number;
  /** Children that failed, by actor id; the newest MAX_FAILURES. */
  failures: Record<string, ChildFailure>;
  /**
   * Request actors by their id (`request:<slot>`, the lowest free slot) → the requestId they answer.
   * Slots repeat, so the events of finished requests (`xstate.done.actor.<id>`) are a bounded set of
   * types: XState memoizes transitions per event type for the machine's lifetime.
   */
  requests: Record<string, string>;
  /** Kubernetes connections that failed and ended (their actor is gone), with why; the newest MAX_ENDED_CONNECTIONS. */
  endedConnections: Record<string, KubeConnectionOutput>;
  shutdownReason?: string;
  /** Clusters left running at exit (not told to stop). */
  keptAtExit?: string[];
  /** Why the state file cannot be written (clusters started now would be lost on a restart). */
  stateFileProblem?: string;
  stateFile?: string;
}

export const SYSTEM_IDS = {
  supervisor: 'supervisor',
  environment: 'environment',
  ports: 'ports',
  cluster: (id: string) => `cluster:${id}`,
  request: (requestId: string) => `request:${requestId}`,
} as const;

const MAX_FAILURES = 50;
const MAX_ENDED_CONNECTIONS = 20;
/** Stopped clusters still listed (list_ray_clusters shows them stopped). */
const MAX_STOPPED_KEPT = 10;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** Capped exponential backoff: 0.5 s, 1 s, 2 s ... 30 s. */
export const restartDelay = (count: number) =>
  Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, count - 1));

/** Children the system cannot do without: restarted after a failure. */
const isInfrastructure = (id: string) =>
  id === SYSTEM_IDS.environment ||
  id === SYSTEM_IDS.ports ||
  id.startsWith('cloud:') ||
  id.startsWith('kube:') ||
  id.startsWith('jobs:');

const CLUSTER_PREFIX = 'cluster:';
const REQUEST_PREFIX = 'request:';
const KUBE_SLOT_PREFIX = 'kube#';

/** The lowest `kube#<n>` no connection's actor has. */
function freeKubeSlot(context: SupervisorContext): string {
  const taken = new Set(Object.values(context.kubeActors));
  let n = 0;
  while (taken.has(`${KUBE_SLOT_PREFIX}${n}`)) n++;
  return `${KUBE_SLOT_PREFIX}${n}`;
}

/** The connection whose actor has child id `childId`. */
function connectionOfChild(context: SupervisorContext, childId: string): string | undefined {
  if (!childId.startsWith(KUBE_SLOT_PREFIX)) return undefined;
  return Object.entries(context.kubeActors).find(([, c]) => c === childId)?.[0];
}

/** `record` without `key` (the same object when it has no such key). */
function without<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!Object.hasOwn(record, key)) return record;
  const { [key]: _, ...rest } = record;
  return rest;
}

/**
 * A named action of this machine with its params, for actions that enqueue other ones (XState
 * cannot type a setup's actions from inside the same setup).
 */
const act = (type: string, params: object) => ({ type, params }) as never;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorCommand | SupervisorFact | ChildErrorEvent | ChildDoneEvent,
    emitted: {} as SupervisorEmitted,
  },
  actors: {
    environment: environmentMachine,
    ports: portAllocatorMachine,
    localCluster: localClusterMachine,
    externalCluster: externalClusterMachine,
    kuberayCluster: kuberayClusterMachine,
    kubeConnection: kubeConnectionMachine,
    jobs: jobsMachine,
    cloudConnection: cloudConnectionMachine,
    /** One tool request: the flow behind a tool (src/actors/operations). */
    operation: fromPromise<unknown, { requestId: string; operation: Operation; capMs?: number }>(async () => {
      throw new Error('provided by src/actors/operations');
    }),
  },
  delays: {
    shutdownTimeout: ({ context }) => Math.max(0, context.shutdownTimeoutMs - 1000),
  },
  guards: {
    keepOnExit: ({ context }) => context.onExit === 'keep',
    allStopped: ({ context }) =>
      Object.keys(context.clusters).every(
        (id) => context.stopped.includes(id) || context.keptAtExit?.includes(id),
      ),
  },
  actions: {
    /** Logs a child's failure (provided by the system; machines do no I/O). */
    reportChildFailure: (_, _params: { id: string; error: unknown; restartInMs?: number }) => {},
    /** The infrastructure every session needs; each is restarted by `restart` after a failure. */
    startInfrastructure: enqueueActions(({ enqueue }) => {
      for (const id of [SYSTEM_IDS.environment, SYSTEM_IDS.ports, cloudSystemId('gke'), cloudSystemId('eks')])
        enqueue(act('spawnInfrastructure', { id }));
    }),
    spawnInfrastructure: enqueueActions(({ context, enqueue }, { id }: { id: string }) => {
      if (id === SYSTEM_IDS.environment) enqueue.spawnChild('environment', { id, systemId: id });
      else if (id === SYSTEM_IDS.ports)
        enqueue.spawnChild('ports', { id, systemId: id, input: { range: context.portRange } });
      else if (id.startsWith('cloud:'))
        enqueue.spawnChild('cloudConnection', {
          id,
          systemId: id,
          input: { provider: id.slice('cloud:'.length) as 'gke' | 'eks' },
        });
      else if (id.startsWith('kube:')) {
        const connectionId = id.slice('kube:'.length);
        const target = context.kubeTargets[connectionId];
        // Reconnected meanwhile (kube.ensure during the backoff): that actor stays.
        if (target && !Object.hasOwn(context.kubeActors, connectionId)) {
          const child = freeKubeSlot(context);
          enqueue.spawnChild('kubeConnection', {
            id: child,
            systemId: id,
            input: { id: connectionId, target },
          });
          enqueue.assign({ kubeActors: { ...context.kubeActors, [connectionId]: child } });
        }
      } else if (id.startsWith('jobs:')) {
        const clusterId = id.slice('jobs:'.length);
        if (context.clusters[clusterId])
          enqueue.spawnChild('jobs', { id, systemId: id, input: { clusterId } });
      }
    }),
    create: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'cluster.create') return;
      const id = event.id ?? nextId(context, event.local ? 'local' : event.kuberay ? 'ray' : 'ext');
      if (context.clusters[id] && !context.stopped.includes(id)) {
        enqueue.emit(
          answerError(event.requestId, {
            code: 'conflict',
            message: `A cluster named ${id} already exists.`,
            fix: 'Pick another name, or stop that cluster first (stop_ray_cluster).',
          }),
        );
        return;
      }
      const kind = event.local ? 'local' : event.kuberay ? 'kuberay' : 'external';
      // A cluster we start must be remembered: without a state file a restart would lose it.
      if (context.stateFileProblem && kind !== 'external') {
        enqueue.emit(
          answerError(event.requestId, {
            code: 'unavailable',
            message: `ray-mcp cannot write its state file ${context.stateFile ?? ''} (${context.stateFileProblem}), so a cluster started now would be lost if ray-mcp restarts. Nothing was started.`,
            fix: 'Make the data directory writable or free disk space (ray-mcp retries every few seconds), or restart ray-mcp with --data-dir on a writable disk.',
          }),
        );
        return;
      }
      const input = event.local
        ? { id, spec: event.local.spec, timeoutMs: event.local.timeoutMs, createdAt: event.at }
        : event.kuberay
          ? { id, ...event.kuberay, createdAt: event.kuberay.createdAt ?? event.at }
          : { id, address: event.external!.address, createdAt: event.at };
      enqueue(act('spawnCluster', { id, kind, input, createdAt: event.at, replace: true }));
      enqueue.emit(answerOk(event.requestId, { clusterId: id }));
    }),
    adopt: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'cluster.adopt') return;
      const r = event.record;
      if (r.kind === 'kuberay' && !context.connections.includes(r.connectionId))
        enqueue(act('addConnection', { id: r.connectionId, target: r.target }));
      const input =
        r.kind === 'kuberay'
          ? {
              id: r.id,
              connectionId: r.connectionId,
              namespace: r.namespace,
              name: r.name,
              owned: r.owned,
              createdAt: r.createdAt,
              timeoutMs: event.timeoutMs,
            }
          : r.kind === 'local'
            ? {
                id: r.id,
                spec: r.spec,
                timeoutMs: event.timeoutMs,
                createdAt: r.createdAt,
                adopt: { record: r, alive: event.alive },
              }
            : { id: r.id, address: r.address, createdAt: r.createdAt };
      // A restart keeps the cluster's jobs actor (and the jobs it follows) when it is still there.
      const replace = !context.clusters[r.id];
      enqueue(act('spawnCluster', { id: r.id, kind: r.kind, input, createdAt: r.createdAt, replace }));
    }),
    /** Spawns `cluster:<id>` (and, unless kept, its `jobs:<id>`), replacing a stopped one of that name. */
    spawnCluster: enqueueActions(
      (
        { context, enqueue, self },
        p: { id: string; kind: ClusterEntry['kind']; input: object; createdAt: number; replace: boolean },
      ) => {
        const clusterId = SYSTEM_IDS.cluster(p.id);
        const jobsId = jobsSystemId(p.id);
        const children = self.getSnapshot().children as Record<string, AnyActorRef | undefined>;
        if (children[clusterId]) enqueue.stopChild(clusterId);
        if (p.replace || !children[jobsId]) {
          if (children[jobsId]) enqueue.stopChild(jobsId);
          enqueue.spawnChild('jobs', { id: jobsId, systemId: jobsId, input: { clusterId: p.id } });
        }
        const src =
          p.kind === 'local' ? 'localCluster' : p.kind === 'kuberay' ? 'kuberayCluster' : 'externalCluster';
        // biome-ignore lint/suspicious/noExplicitAny: the input matches `src`, chosen from the same kind
        enqueue.spawnChild(src, { id: clusterId, systemId: clusterId, input: p.input as any });
        const n = /^(?:local|ext|ray)-(\d+)$/.exec(p.id);
        enqueue.assign({
          counter: n ? Math.max(context.counter, Number(n[1])) : context.counter,
          clusters: { ...context.clusters, [p.id]: { kind: p.kind, createdAt: p.createdAt } },
          stopped: context.stopped.filter((s) => s !== p.id),
        });
      },
    ),
    forget: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'cluster.forget') return;
      const children = self.getSnapshot().children as Record<string, AnyActorRef | undefined>;
      for (const id of [SYSTEM_IDS.cluster(event.clusterId), jobsSystemId(event.clusterId)])
        if (children[id]) enqueue.stopChild(id);
      const { [event.clusterId]: _, ...clusters } = context.clusters;
      const { [SYSTEM_IDS.cluster(event.clusterId)]: __, ...failures } = context.failures;
      enqueue.assign({
        clusters,
        failures,
        stopped: context.stopped.filter((s) => s !== event.clusterId),
      });
    }),
    addConnection: enqueueActions(({ context, enqueue }, p: { id: string; target: KubeTarget }) => {
      const child = freeKubeSlot(context);
      enqueue.spawnChild('kubeConnection', {
        id: child,
        systemId: kubeSystemId(p.id),
        input: { id: p.id, target: p.target },
      });
      enqueue.assign({
        kubeActors: { ...context.kubeActors, [p.id]: child },
        connections: context.connections.includes(p.id)
          ? context.connections
          : [...context.connections, p.id],
        kubeTargets: { ...context.kubeTargets, [p.id]: p.target },
        endedConnections: without(context.endedConnections, p.id),
      });
    }),
    ensureConnection: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'kube.ensure') return;
      const child = Object.hasOwn(context.kubeActors, event.id) ? context.kubeActors[event.id] : undefined;
      const alive = child && (self.getSnapshot().children as Record<string, AnyActorRef | undefined>)[child];
      if (!child || !alive) {
        enqueue(act('addConnection', { id: event.id, target: event.target }));
      } else {
        enqueue.sendTo(child, {
          type: 'kube.connect',
          requestId: `${event.requestId}:reconnect`,
        });
      }
      enqueue.emit(answerOk(event.requestId, { connectionId: event.id }));
    }),
    startRequest: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'request') return;
      let n = 0;
      while (Object.hasOwn(context.requests, `${REQUEST_PREFIX}${n}`)) n++;
      const id = `${REQUEST_PREFIX}${n}`;
      enqueue.spawnChild('operation', {
        id,
        systemId: SYSTEM_IDS.request(event.requestId),
        input: { requestId: event.requestId, operation: event.operation, capMs: event.capMs },
      });
      enqueue.assign({ requests: { ...context.requests, [id]: event.requestId } });
    }),
    cancelRequest: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'request.cancel') return;
      const id = Object.entries(context.requests).find(([, r]) => r === event.requestId)?.[0];
      if (!id) return;
      if ((self.getSnapshot().children as Record<string, AnyActorRef | undefined>)[id]) enqueue.stopChild(id);
      enqueue.assign({ requests: without(context.requests, id) });
    }),
    relayProgress: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'request.progress') return;
      const { type: _t, ...rest } = event;
      enqueue.emit({ ...rest, type: 'progress' });
    }),
    /** A request's flow ended: its output is the answer. A connection ended: drop it, keep why. */
    childDone: enqueueActions(({ context, enqueue }, { id, output }: { id: string; output: unknown }) => {
      const connectionId = connectionOfChild(context, id);
      if (connectionId !== undefined) {
        enqueue.stopChild(id);
        const kept = Object.entries(without(context.endedConnections, connectionId)).slice(
          -(MAX_ENDED_CONNECTIONS - 1),
        );
        enqueue.assign({
          connections: context.connections.filter((c) => c !== connectionId),
          kubeTargets: without(context.kubeTargets, connectionId),
          kubeActors: without(context.kubeActors, connectionId),
          endedConnections: {
            ...Object.fromEntries(kept),
            [connectionId]: (output ?? {}) as KubeConnectionOutput,
          },
        });
        return;
      }
      // A cluster actor that ended (a KubeRay cluster let go of) already said it stopped.
      if (id.startsWith(CLUSTER_PREFIX)) return void enqueue.stopChild(id);
      const requestId = context.requests[id];
      if (!id.startsWith(REQUEST_PREFIX) || requestId === undefined) return;
      // XState keeps a finished child among the children until it is stopped: drop it.
      enqueue.stopChild(id);
      enqueue.assign({ requests: without(context.requests, id) });
      enqueue.emit(answerOk(requestId, output));
    }),
    /**
     * A child failed. A request answers with its error. Any other child is logged, its own children
     * (which XState leaves running) are stopped, and it is recorded; infrastructure and clusters
     * come back after a capped backoff (a cluster by adoption from its last record).
     */
    childFailed: enqueueActions(
      ({ context, enqueue, self }, { id: childId, error }: { id: string; error: unknown }) => {
        if (childId.startsWith(REQUEST_PREFIX)) {
          const requestId = context.requests[childId];
          enqueue.stopChild(childId);
          enqueue.assign({ requests: without(context.requests, childId) });
          if (requestId !== undefined) enqueue.emit(answerError(requestId, toErrorInfo(error)));
          return;
        }
        // A connection's actor is known by its system id (`kube:<connection>`), and its slot is free.
        const connectionId = connectionOfChild(context, childId);
        const id = connectionId !== undefined ? kubeSystemId(connectionId) : childId;
        if (connectionId !== undefined)
          enqueue.assign({ kubeActors: without(context.kubeActors, connectionId) });
        const children = self.getSnapshot().children as Record<string, AnyActorRef | undefined>;
        const child = children[childId];
        if (child) {
          const orphans = Object.values(
            (child.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> }).children ?? {},
          );
          enqueue(() => {
            for (const orphan of orphans) orphan?.send({ type: 'xstate.stop' });
          });
          enqueue.stopChild(childId);
        }
        const info = toErrorInfo(error);
        const count = (context.failures[id]?.count ?? 0) + 1;
        const isCluster = id.startsWith(CLUSTER_PREFIX);
        const restarts = isInfrastructure(id) || isCluster;
        const restartInMs = restarts ? restartDelay(count) : undefined;
        enqueue(act('reportChildFailure', { id, error, restartInMs }));
        enqueue.emit({ type: 'child.failed', id, error: info, restartInMs });
        const kept = Object.entries(context.failures)
          .filter(([k]) => k !== id)
          .slice(-(MAX_FAILURES - 1));
        enqueue.assign({
          failures: {
            ...Object.fromEntries(kept),
            [id]: { error: info, count, state: restarts ? 'restarting' : 'failed' },
          },
        });
        if (restarts) enqueue.raise({ type: 'supervisor.restart', id }, { delay: restartInMs });
      },
    ),
    restart: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'supervisor.restart') return;
      const failure = context.failures[event.id];
      if (failure)
        enqueue.assign({ failures: { ...context.failures, [event.id]: { ...failure, state: 'restarted' } } });
      if (event.id.startsWith(CLUSTER_PREFIX))
        enqueue.emit({ type: 'cluster.restartDue', clusterId: event.id.slice(CLUSTER_PREFIX.length) });
      else enqueue(act('spawnInfrastructure', { id: event.id }));
    }),
    assignReason: assign({
      shutdownReason: ({ event }) => (event.type === 'system.shutdown' ? event.reason : undefined),
      keptAtExit: ({ event }) => (event.type === 'system.shutdown' ? event.keep : undefined),
    }),
    /**
     * A cluster stopped. The newest MAX_STOPPED_KEPT stopped clusters stay listed; older ones are done:
     * their actors (cluster and jobs) are stopped and they leave every registry.
     */
    noteStopped: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'cluster.stopped' || context.stopped.includes(event.clusterId)) return;
      const stopped = [...context.stopped, event.clusterId];
      const old = stopped.slice(0, Math.max(0, stopped.length - MAX_STOPPED_KEPT));
      if (!old.length) return void enqueue.assign({ stopped });
      const children = self.getSnapshot().children as Record<string, AnyActorRef | undefined>;
      const clusters = { ...context.clusters };
      for (const id of old) {
        for (const child of [SYSTEM_IDS.cluster(id), jobsSystemId(id)])
          if (children[child]) enqueue.stopChild(child);
        delete clusters[id];
      }
      enqueue.assign({ clusters, stopped: stopped.slice(old.length) });
    }),
    stopClusters: enqueueActions(({ context, enqueue, self }) => {
      const children = self.getSnapshot().children as Record<string, AnyActorRef | undefined>;
      for (const id of Object.keys(context.clusters)) {
        if (context.stopped.includes(id) || context.keptAtExit?.includes(id)) continue;
        if (children[SYSTEM_IDS.cluster(id)])
          enqueue.sendTo(SYSTEM_IDS.cluster(id), { type: 'cluster.shutdown' });
        // A cluster whose actor is down (failed, waiting to restart) has nothing to tell.
        else enqueue.raise({ type: 'cluster.stopped', clusterId: id });
      }
    }),
    refuse: enqueueActions(({ event, enqueue }) => {
      if (!('requestId' in event)) return;
      enqueue.emit(
        answerError(event.requestId, {
          code: 'shutting_down',
          message: 'ray-mcp is shutting down.',
          fix: 'Restart the MCP server and try again.',
        }),
      );
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({
    ...input,
    clusters: {},
    connections: [],
    kubeActors: {},
    kubeTargets: {},
    stopped: [],
    counter: 0,
    failures: {},
    requests: {},
    endedConnections: {},
  }),
  entry: 'startInfrastructure',
  on: {
    'cluster.stopped': { actions: 'noteStopped' },
    'system.stateFile': {
      actions: assign({
        stateFileProblem: ({ event }) => event.problem,
        stateFile: ({ event }) => event.file,
      }),
    },
    'request.progress': { actions: 'relayProgress' },
    'xstate.error.actor.*': {
      actions: { type: 'childFailed', params: ({ event }) => ({ id: event.actorId, error: event.error }) },
    },
    'xstate.done.actor.*': {
      actions: { type: 'childDone', params: ({ event }) => ({ id: event.actorId, output: event.output }) },
    },
  },
  initial: 'running',
  states: {
    running: {
      on: {
        'cluster.create': { actions: 'create' },
        'cluster.adopt': { actions: 'adopt' },
        'cluster.forget': { actions: 'forget' },
        'kube.ensure': { actions: 'ensureConnection' },
        request: { actions: 'startRequest' },
        'request.cancel': { actions: 'cancelRequest' },
        'supervisor.restart': { actions: 'restart' },
        'system.shutdown': [
          { guard: 'keepOnExit', target: 'stopped', actions: 'assignReason' },
          { target: 'stopping', actions: 'assignReason' },
        ],
      },
    },
    stopping: {
      entry: 'stopClusters',
      always: { guard: 'allStopped', target: 'stopped' },
      after: { shutdownTimeout: 'stopped' },
      on: {
        'cluster.create': { actions: 'refuse' },
        'kube.ensure': { actions: 'refuse' },
        request: { actions: 'refuse' },
      },
    },
    stopped: { type: 'final' },
  },
});

function nextId(context: SupervisorContext, prefix: string): string {
  let n = context.counter + 1;
  while (context.clusters[`${prefix}-${n}`]) n++;
  return `${prefix}-${n}`;
}
