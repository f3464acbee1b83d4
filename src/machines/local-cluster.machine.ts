/**
 * One local Ray cluster: a head and worker nodes, each a `ray start --block` process of ours.
 *
 *   starting ──▶ up(running ⇄ degraded) ──▶ stopping ──▶ stopped
 *       │            │ head exited               ▲
 *       └────────────┴──▶ failing ──▶ failed ────┘
 *
 * Adopted from the state file: checkingAlive ──▶ adopting ──▶ up; dead ──▶ reaping ──▶ stopped
 * (shown as stopped from the start); a process table that cannot be read ──▶ unsure ──▶ checked
 * again (nothing is touched meanwhile); a record that was failed ──▶ failing ──▶ failed (its logs
 * kept until the user stops it).
 *
 * Node processes are child actors that report `node.launched` / `node.exited`; the health
 * watcher reports what the dashboard sees (`ray.health`). Everything that touches the OS or Ray
 * is an invoked actor named below and provided by src/actors/local-cluster.actor.ts.
 */
import {
  type ActorRefFrom,
  assign,
  enqueueActions,
  fromCallback,
  fromEventObservable,
  fromPromise,
  not,
  sendParent,
  setup,
} from 'xstate';
import type { LocalClusterSpec, NodeResources } from '../domain/cluster.js';
import {
  type ClusterDetails,
  type ClusterHealth,
  KEPT_AT_EXIT,
  type LocalClusterError,
  type LocalClusterRecord,
  type NodeRecord,
  type RayEndpoints,
  type RayHealthEvent,
  START_STEPS,
  type StartStep,
} from '../domain/cluster-record.js';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type DashboardTarget, dashboardOwner } from '../domain/dashboard.js';
import { type ErrorInfo, RayMcpError, toErrorInfo } from '../domain/errors.js';
import { type ChildErrorEvent, errorOf } from './child-events.js';

export type LocalClusterCommand =
  | { type: 'cluster.awaitReady'; requestId: string }
  | { type: 'cluster.stop'; requestId: string }
  | { type: 'cluster.describe'; requestId: string }
  | {
      type: 'cluster.scale';
      requestId: string;
      nodeType: string;
      workers: number;
      resources?: NodeResources;
    };

export type LocalClusterFact =
  | { type: 'node.launched'; node: string; pid: number }
  | { type: 'node.exited'; node: string; exit: string; excerpt?: string }
  | { type: 'ray.health'; health: ClusterHealth }
  /** From the waiting actors of a start: the readiness step now waited for. */
  | { type: 'start.step'; step: StartStep; detail?: string }
  /** From the supervisor when ray-mcp exits with --on-exit=stop. */
  | { type: 'cluster.shutdown' };

export type LocalClusterEvent = LocalClusterCommand | LocalClusterFact;

export type ClusterError = LocalClusterError;

/** Where the waiting actors of a start report the step they wait for. */
export interface StepReporter {
  send(event: { type: 'start.step'; step: StartStep; detail?: string }): void;
}

export interface LocalClusterInput {
  id: string;
  spec: LocalClusterSpec;
  timeoutMs: number;
  createdAt: number;
  /** A cluster from the state file, found alive (adopt it) or dead (clean up, mark stopped). */
  /** `alive` unset: the cluster actor checks (checkAlive) before adopting. */
  adopt?: { record: LocalClusterRecord; alive?: boolean };
}

export interface LocalClusterContext {
  id: string;
  spec: LocalClusterSpec;
  timeoutMs: number;
  createdAt: number;
  startedAt?: number;
  rayBin?: string;
  tempDir?: string;
  ray?: RayEndpoints;
  nodes: Record<string, NodeRecord>;
  counters: Record<string, number>;
  health?: ClusterHealth;
  details?: ClusterDetails;
  error?: ClusterError;
  note?: string;
  /**
   * no: started by this process; alive/dead: from the state file, found running or not; unknown:
   * not checked yet; failed: recorded as failed.
   */
  adopted: 'no' | 'alive' | 'dead' | 'unknown' | 'failed';
  /** The status of the record adopted, kept in the state file until adoption has decided. */
  recordedStatus?: LocalClusterRecord['status'];
  /** Process-table reads that failed in a row (adoption checks again with a backoff). */
  uncertainChecks?: number;
  /** The readiness step a start waits for, and what it still waits on. */
  startStep?: StartStep;
  stepDetail?: string;
  waiting: { ready: string[]; stop: string[]; describe: string[] };
  /** ray-mcp is exiting (--on-exit=stop) and told us while we could not stop yet. */
  shutdownRequested?: boolean;
  scale?: { requestId: string; nodeType: string; target: number; names: string[] };
}

export interface PrepareOutput {
  rayBin: string;
  tempDir: string;
  ports: Record<string, Record<string, number>>;
}

export interface NodeProcessInput {
  clusterId: string;
  node: NodeRecord;
  rayBin: string;
  tempDir: string;
  ray?: RayEndpoints;
  spec: LocalClusterSpec;
  /** Watch this already running process instead of starting one (adoption). */
  adoptPid?: number;
}

export interface StopNodesInput {
  clusterId: string;
  nodes: { name: string; role: 'head' | 'worker'; pid?: number }[];
  tempDir?: string;
  /** Lease owners to give back to the port allocator. */
  release: string[];
  removeTempDir: boolean;
  /** How long each `ray start --block` may take to stop before SIGKILL. */
  graceMs: number;
  /** The head's log, read for the failure report before anything is removed. */
  headLog?: string;
}

export interface StopNodesOutput {
  headExcerpt?: string;
}

/** The nodes Ray reports alive, by name, and when it did. */
export interface NodesJoined {
  nodeIds: Record<string, string>;
  at: number;
}

const live = (n: NodeRecord) => n.state !== 'exited';
const workerName = (nodeType: string, n: number) => `${nodeType}-${n}`;
const leaseOwner = (clusterId: string, node: string) => `cluster:${clusterId}/${node}`;

/** The dashboard of this cluster actor instance. */
const dashboardOf = (c: LocalClusterContext): DashboardTarget => ({
  url: c.ray!.dashboardUrl,
  owner: dashboardOwner(c.id, c.createdAt),
});

const DEAD_NOTE = 'Its processes exited while ray-mcp was not running.';

/** Pause before a failed watcher is started again. */
export const WATCHER_BACKOFF_MS = 2000;

export const localClusterMachine = setup({
  types: {
    context: {} as LocalClusterContext,
    input: {} as LocalClusterInput,
    events: {} as LocalClusterEvent | ChildErrorEvent,
    emitted: {} as Answer,
  },
  actors: {
    prepareLaunch: fromPromise<PrepareOutput, { clusterId: string; nodes: string[]; rayBin?: string }>(
      async () => {
        throw new Error('provided by src/actors/local-cluster.actor.ts');
      },
    ),
    /** Whether the record's head process still runs as that node (pids get reused). */
    checkAlive: fromPromise<boolean, { tempDir?: string; nodes: NodeRecord[] }>(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    adoptPorts: fromPromise<void, { clusterId: string; nodes: NodeRecord[] }>(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    reservePorts: fromPromise<Record<string, Record<string, number>>, { clusterId: string; nodes: string[] }>(
      async () => {
        throw new Error('provided by src/actors/local-cluster.actor.ts');
      },
    ),
    nodeProcess: fromCallback<LocalClusterEvent, NodeProcessInput>(() => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    waitForHead: fromPromise<
      RayEndpoints,
      { tempDir: string; ports: Record<string, number>; owner: string; report?: StepReporter }
    >(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    /** Every named node ALIVE; with `jobAgent` (a start), also the head's job agent warmed up. */
    waitForNodes: fromPromise<
      NodesJoined,
      { dashboard: DashboardTarget; names: string[]; jobAgent?: DashboardTarget; report?: StepReporter }
    >(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    pickWorkersToRemove: fromPromise<
      string[],
      { dashboard: DashboardTarget; candidates: { name: string; nodeId?: string }[]; count: number }
    >(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    stopNodes: fromPromise<StopNodesOutput, StopNodesInput>(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    describeCluster: fromPromise<ClusterDetails, { dashboard: DashboardTarget }>(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    healthWatcher: fromEventObservable<RayHealthEvent, { dashboard: DashboardTarget }>(() => {
      throw new Error('provided by src/watchers/cluster-health.watcher.ts');
    }),
  },
  delays: {
    startTimeout: ({ context }) => context.timeoutMs,
    recheck: ({ context }) => uncertainBackoff(context.uncertainChecks ?? 1),
  },
  guards: {
    adoptAlive: ({ context }) => context.adopted === 'alive',
    adoptDead: ({ context }) => context.adopted === 'dead',
    adoptUnknown: ({ context }) => context.adopted === 'unknown',
    adoptFailed: ({ context }) => context.adopted === 'failed',
    isHead: ({ event }) => event.type === 'node.exited' && event.node === 'head',
    isRemoving: ({ context, event }) =>
      event.type === 'node.exited' && context.nodes[event.node]?.state === 'removing',
    hasExitedWorker: ({ context }) =>
      Object.values(context.nodes).some((n) => n.role === 'worker' && n.state === 'exited'),
    scaleUp: ({ context, event }) =>
      event.type === 'cluster.scale' && event.workers > liveOfType(context, event.nodeType).length,
    scaleDown: ({ context, event }) =>
      event.type === 'cluster.scale' && event.workers < liveOfType(context, event.nodeType).length,
    stopRequested: ({ context }) => context.waiting.stop.length > 0 || context.shutdownRequested === true,
    hasWorkers: ({ context }) => Object.values(context.nodes).some((n) => n.role === 'worker'),
  },
  actions: {
    waitReady: assign({
      waiting: ({ context, event }) =>
        event.type === 'cluster.awaitReady'
          ? { ...context.waiting, ready: [...context.waiting.ready, event.requestId] }
          : context.waiting,
    }),
    waitStop: assign({
      waiting: ({ context, event }) =>
        event.type === 'cluster.stop'
          ? { ...context.waiting, stop: [...context.waiting.stop, event.requestId] }
          : context.waiting,
    }),
    waitDescribe: assign({
      waiting: ({ context, event }) =>
        event.type === 'cluster.describe'
          ? { ...context.waiting, describe: [...context.waiting.describe, event.requestId] }
          : context.waiting,
    }),
    answerNow: enqueueActions(({ event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerOk(event.requestId));
    }),
    /** Ready waiters get ok when up, the failure otherwise. */
    answerReady: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting.ready) {
        enqueue.emit(context.error ? answerError(id, context.error) : answerOk(id));
      }
      enqueue.assign({ waiting: { ...context.waiting, ready: [] } });
    }),
    answerReadyStopped: enqueueActions(({ context, enqueue }) => {
      const error: ErrorInfo = context.error ?? {
        code: 'conflict',
        message: `Cluster ${context.id} was stopped before it became ready.`,
        fix: 'Start it again with init_ray_cluster if you still need it.',
      };
      for (const id of context.waiting.ready) enqueue.emit(answerError(id, error));
      enqueue.assign({ waiting: { ...context.waiting, ready: [] } });
    }),
    answerStop: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting.stop) enqueue.emit(answerOk(id));
      enqueue.assign({ waiting: { ...context.waiting, stop: [] } });
    }),
    answerDescribe: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting.describe) enqueue.emit(answerOk(id));
      enqueue.assign({ waiting: { ...context.waiting, describe: [] } });
    }),
    refuseScale: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'cluster.scale') return;
      const status = statusOf(self.getSnapshot());
      enqueue.emit(
        answerError(event.requestId, {
          code: 'conflict',
          message: context.scale
            ? `Cluster ${context.id} is already scaling (${context.scale.nodeType}).`
            : `Cluster ${context.id} is ${status}; only a running or degraded cluster can scale.`,
          fix: context.scale
            ? 'Wait for that scale to finish, then try again.'
            : 'Check it with inspect_ray_cluster.',
        }),
      );
    }),
    assignPrepared: assign(({ context }, out: PrepareOutput) => {
      const nodes = { ...context.nodes };
      for (const [name, ports] of Object.entries(out.ports)) nodes[name] = { ...nodes[name]!, ports };
      for (const node of Object.values(nodes))
        nodes[node.name] = { ...node, logFile: `${out.tempDir}/${node.name}.log` };
      return { rayBin: out.rayBin, tempDir: out.tempDir, nodes };
    }),
    spawnHead: enqueueActions(({ context, enqueue }) => {
      const head = context.nodes.head!;
      enqueue.spawnChild('nodeProcess', {
        id: `node:head`,
        input: {
          clusterId: context.id,
          node: head,
          rayBin: context.rayBin!,
          tempDir: context.tempDir!,
          spec: context.spec,
        },
      });
    }),
    spawnPendingWorkers: enqueueActions(({ context, enqueue }) => {
      for (const node of Object.values(context.nodes)) {
        if (node.role !== 'worker' || node.state !== 'pending' || !node.ports) continue;
        enqueue.spawnChild('nodeProcess', {
          id: `node:${node.name}`,
          input: {
            clusterId: context.id,
            node,
            rayBin: context.rayBin!,
            tempDir: context.tempDir!,
            ray: context.ray,
            spec: context.spec,
          },
        });
      }
    }),
    watchAdoptedNodes: enqueueActions(({ context, enqueue }) => {
      for (const node of Object.values(context.nodes)) {
        if (node.state === 'exited' || !node.pid) continue;
        enqueue.spawnChild('nodeProcess', {
          id: `node:${node.name}`,
          input: {
            clusterId: context.id,
            node,
            rayBin: context.rayBin!,
            tempDir: context.tempDir!,
            ray: context.ray,
            spec: context.spec,
            adoptPid: node.pid,
          },
        });
      }
    }),
    markLaunched: assign({
      nodes: ({ context, event }) => {
        if (event.type !== 'node.launched' || !context.nodes[event.node]) return context.nodes;
        return {
          ...context.nodes,
          [event.node]: { ...context.nodes[event.node]!, state: 'launched', pid: event.pid },
        };
      },
    }),
    markExited: assign({
      nodes: ({ context, event }) => {
        if (event.type !== 'node.exited' || !context.nodes[event.node]) return context.nodes;
        return {
          ...context.nodes,
          [event.node]: { ...context.nodes[event.node]!, state: 'exited', exit: event.exit },
        };
      },
    }),
    failFromExit: assign({
      error: ({ context, event }) => {
        if (event.type !== 'node.exited') return context.error;
        const what = event.node === 'head' ? 'The head node' : `Worker node ${event.node}`;
        return {
          code: 'unavailable' as const,
          message: `${what} of cluster ${context.id} exited (${event.exit}).`,
          fix: 'Read the excerpt of its output for the cause; then stop_ray_cluster and init_ray_cluster again.',
          excerpt: event.excerpt,
          logDir: context.tempDir,
        };
      },
    }),
    failTimeout: assign({
      error: ({ context }) => {
        const step = context.startStep ?? 'prepare';
        return {
          code: 'timeout' as const,
          message: `Cluster ${context.id} was not usable within ${Math.round(context.timeoutMs / 1000)} s: "${START_STEPS[step]}" was not reached${context.stepDetail ? ` (${context.stepDetail})` : ''}.`,
          fix: `The machine may be overloaded: try fewer workers, or a larger timeout_seconds.${context.tempDir ? ` The logs are kept in ${context.tempDir} until you stop the cluster (stop_ray_cluster).` : ''}`,
          step,
          logDir: context.tempDir,
        };
      },
    }),
    assignStep: assign({
      startStep: ({ context, event }) => (event.type === 'start.step' ? event.step : context.startStep),
      stepDetail: ({ context, event }) => (event.type === 'start.step' ? event.detail : context.stepDetail),
    }),
    enterStep: assign((_, step: StartStep) => ({ startStep: step, stepDetail: undefined })),
    noteUncertain: assign(({ context }, { error }: { error: unknown }) => {
      const checks = (context.uncertainChecks ?? 0) + 1;
      return {
        uncertainChecks: checks,
        note: `Whether its processes still run is unknown: ${toErrorInfo(error).message}. Nothing was touched; checking again in ${Math.round(uncertainBackoff(checks) / 1000)} s.`,
      };
    }),
    refuseStopUncertain: enqueueActions(({ context, event, enqueue }) => {
      const ids = [...context.waiting.stop, ...(event.type === 'cluster.stop' ? [event.requestId] : [])];
      for (const id of ids)
        enqueue.emit(
          answerError(id, {
            code: 'unavailable',
            message:
              `Cluster ${context.id} cannot be stopped yet: ray-mcp cannot read the process table, so it cannot tell the cluster's processes from others. ${context.note ?? ''}`.trim(),
            fix: 'Try again in a minute; if it persists, check that ps (or /proc) works for the user running ray-mcp.',
          }),
        );
      enqueue.assign({ waiting: { ...context.waiting, stop: [] } });
    }),
    failFromError: assign((_, { error }: { error: unknown }) => ({ error: toErrorInfo(error) })),
    assignRay: assign((_, ray: RayEndpoints) => ({ ray })),
    assignNodeIds: assign({
      nodes: ({ context }, ids: Record<string, string>) => {
        const nodes = { ...context.nodes };
        for (const [name, nodeId] of Object.entries(ids)) {
          if (nodes[name] && nodes[name]!.state !== 'exited')
            nodes[name] = { ...nodes[name]!, nodeId, state: 'up' };
        }
        return nodes;
      },
    }),
    requestShutdown: assign({ shutdownRequested: true }),
    markStarted: assign((_, at: number) => ({ startedAt: at })),
    assignHealth: assign({
      health: ({ context, event }) => (event.type === 'ray.health' ? event.health : context.health),
    }),
    planAdd: assign(({ context, event }) => {
      if (event.type !== 'cluster.scale') return {};
      const current = liveOfType(context, event.nodeType);
      const template =
        event.resources ??
        current[0]?.resources ??
        context.spec.workers.find((w) => w.nodeType === event.nodeType)?.resources ??
        {};
      const nodes = { ...context.nodes };
      const counters = { ...context.counters };
      // A dead worker of this type is replaced, not kept beside its replacement.
      for (const n of Object.values(nodes)) {
        if (n.role === 'worker' && n.nodeType === event.nodeType && n.state === 'exited')
          delete nodes[n.name];
      }
      const names: string[] = [];
      for (let i = current.length; i < event.workers; i++) {
        counters[event.nodeType] = (counters[event.nodeType] ?? 0) + 1;
        const name = workerName(event.nodeType, counters[event.nodeType]!);
        names.push(name);
        nodes[name] = newNode(context.tempDir!, name, event.nodeType, 'worker', template);
      }
      return {
        nodes,
        counters,
        scale: { requestId: event.requestId, nodeType: event.nodeType, target: event.workers, names },
      };
    }),
    planRemove: assign(({ context, event }) => {
      if (event.type !== 'cluster.scale') return {};
      const nodes = { ...context.nodes };
      for (const n of Object.values(nodes)) {
        if (n.role === 'worker' && n.nodeType === event.nodeType && n.state === 'exited')
          delete nodes[n.name];
      }
      return {
        nodes,
        scale: { requestId: event.requestId, nodeType: event.nodeType, target: event.workers, names: [] },
      };
    }),
    assignScalePorts: assign({
      nodes: ({ context }, ports: Record<string, Record<string, number>>) => {
        const nodes = { ...context.nodes };
        for (const [name, p] of Object.entries(ports))
          if (nodes[name]) nodes[name] = { ...nodes[name]!, ports: p };
        return nodes;
      },
    }),
    markRemoving: assign(({ context }, names: string[]) => {
      const nodes = { ...context.nodes };
      for (const name of names) if (nodes[name]) nodes[name] = { ...nodes[name]!, state: 'removing' };
      return { nodes, scale: context.scale && { ...context.scale, names } };
    }),
    dropRemoved: enqueueActions(({ context, enqueue }) => {
      const nodes = { ...context.nodes };
      for (const name of context.scale?.names ?? []) {
        delete nodes[name];
        enqueue.stopChild(`node:${name}`);
      }
      enqueue.assign({ nodes });
    }),
    dropUnlaunched: assign(({ context }) => {
      const nodes = { ...context.nodes };
      for (const name of context.scale?.names ?? []) if (nodes[name]?.state === 'pending') delete nodes[name];
      return { nodes };
    }),
    finishScale: enqueueActions(({ context, enqueue }) => {
      if (context.scale) enqueue.emit(answerOk(context.scale.requestId));
      enqueue.assign({ scale: undefined });
    }),
    failScale: enqueueActions(({ context, enqueue }, { error }: { error: unknown }) => {
      if (context.scale) enqueue.emit(answerError(context.scale.requestId, toErrorInfo(error)));
      enqueue.assign({ scale: undefined });
    }),
    assignDetails: assign((_, details: ClusterDetails) => ({ details })),
    stopNodeChildren: enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.nodes)) enqueue.stopChild(`node:${name}`);
    }),
    noteChildFailure: assign((_, { error }: { error: unknown }) => ({
      note: `An internal watcher of this cluster failed (${toErrorInfo(error).message}); it is restarted.`,
    })),
    notifyStopped: sendParent(({ context }) => ({ type: 'cluster.stopped', clusterId: context.id })),
    noteCleanupFailure: assign(({ context }, { error }: { error: unknown }) => ({
      note: `Cleanup was incomplete: ${toErrorInfo(error).message}${context.note ? ` ${context.note}` : ''}`,
    })),
  },
}).createMachine({
  id: 'localCluster',
  context: ({ input }) => {
    if (input.adopt) {
      const r = input.adopt.record;
      return {
        id: r.id,
        spec: r.spec,
        timeoutMs: input.timeoutMs,
        createdAt: r.createdAt,
        startedAt: r.startedAt,
        rayBin: r.rayBin,
        tempDir: r.tempDir,
        ray: r.ray,
        nodes: Object.fromEntries(r.nodes.map((n) => [n.name, n])),
        counters: r.counters,
        adopted:
          r.status === 'failed'
            ? 'failed'
            : input.adopt.alive === undefined
              ? 'unknown'
              : input.adopt.alive
                ? 'alive'
                : 'dead',
        recordedStatus: r.status,
        error: r.error,
        note:
          r.status === 'failed'
            ? r.note
            : input.adopt.alive === false
              ? DEAD_NOTE
              : r.note?.startsWith(KEPT_AT_EXIT)
                ? r.note
                : undefined,
        waiting: { ready: [], stop: [], describe: [] },
      };
    }
    const nodes: Record<string, NodeRecord> = {};
    const counters: Record<string, number> = {};
    nodes.head = newNode(undefined, 'head', 'head', 'head', input.spec.head);
    for (const group of input.spec.workers) {
      for (let i = 0; i < group.count; i++) {
        counters[group.nodeType] = (counters[group.nodeType] ?? 0) + 1;
        const name = workerName(group.nodeType, counters[group.nodeType]!);
        nodes[name] = newNode(undefined, name, group.nodeType, 'worker', group.resources);
      }
    }
    return {
      id: input.id,
      spec: input.spec,
      timeoutMs: input.timeoutMs,
      createdAt: input.createdAt,
      nodes,
      counters,
      adopted: 'no',
      waiting: { ready: [], stop: [], describe: [] },
    };
  },
  // Commands any state answers unless a state says otherwise.
  on: {
    // A child (node process watcher, health watcher) that fails is noted, never fatal.
    'xstate.error.actor.*': { actions: { type: 'noteChildFailure', params: errorOf } },
    'cluster.describe': { actions: 'answerNow' },
    'cluster.scale': { actions: 'refuseScale' },
    'cluster.awaitReady': { actions: 'waitReady' },
  },
  initial: 'init',
  states: {
    init: {
      always: [
        { guard: 'adoptAlive', target: 'adopting' },
        { guard: 'adoptDead', target: 'reaping' },
        { guard: 'adoptUnknown', target: 'checkingAlive' },
        // Failed before the restart: make sure nothing of it runs, keep its error and logs.
        { guard: 'adoptFailed', target: 'failing' },
        { target: 'starting' },
      ],
    },
    checkingAlive: {
      on: {
        'cluster.stop': { actions: 'waitStop' },
        'cluster.shutdown': { actions: 'requestShutdown' },
      },
      invoke: {
        src: 'checkAlive',
        input: ({ context }) => ({ tempDir: context.tempDir, nodes: Object.values(context.nodes) }),
        onDone: [
          {
            guard: ({ event }) => event.output,
            target: 'adopting',
            actions: assign({
              adopted: 'alive',
              // Why the last run left it running stays said (list_ray_clusters shows it).
              note: ({ context }) => (context.note?.startsWith(KEPT_AT_EXIT) ? context.note : undefined),
              uncertainChecks: undefined,
            }),
          },
          { target: 'reaping', actions: assign({ adopted: 'dead', note: DEAD_NOTE }) },
        ],
        // An unknown process table is unknown, never dead: delete nothing, look again later.
        onError: { target: 'unsure', actions: { type: 'noteUncertain', params: errorOf } },
      },
    },
    unsure: {
      entry: 'refuseStopUncertain',
      after: { recheck: 'checkingAlive' },
      on: {
        'cluster.stop': { actions: 'refuseStopUncertain' },
        'cluster.shutdown': { actions: 'requestShutdown' },
      },
    },
    reaping: {
      // Dead while ray-mcp was away: stopped already; only its leftovers are cleaned up.
      on: { 'cluster.stop': { actions: 'waitStop' } },
      invoke: {
        src: 'stopNodes',
        // Its pids may belong to strangers now: only what mentions its temp dir is its own.
        input: ({ context }) =>
          stopWholeCluster(context, { removeTempDir: true, graceMs: 2000, byTempDirOnly: true }),
        onDone: { target: 'stopped' },
        onError: { target: 'stopped', actions: { type: 'noteCleanupFailure', params: errorOf } },
      },
    },
    adopting: {
      on: {
        'cluster.stop': { actions: 'waitStop' },
        'cluster.shutdown': { actions: 'requestShutdown' },
      },
      invoke: {
        src: 'adoptPorts',
        input: ({ context }) => ({ clusterId: context.id, nodes: Object.values(context.nodes) }),
        onDone: { target: 'up', actions: 'watchAdoptedNodes' },
        onError: { target: 'failing', actions: { type: 'failFromError', params: errorOf } },
      },
    },
    starting: {
      initial: 'preparing',
      after: { startTimeout: { target: 'failing', actions: 'failTimeout' } },
      on: {
        'node.launched': { actions: 'markLaunched' },
        'node.exited': { target: 'failing', actions: ['markExited', 'failFromExit'] },
        'cluster.stop': { target: 'stopping', actions: 'waitStop' },
        'cluster.shutdown': { target: 'stopping' },
        'start.step': { actions: 'assignStep' },
      },
      states: {
        preparing: {
          entry: { type: 'enterStep', params: 'prepare' },
          invoke: {
            src: 'prepareLaunch',
            input: ({ context }) => ({ clusterId: context.id, nodes: Object.keys(context.nodes) }),
            onDone: {
              target: 'launchingHead',
              actions: [{ type: 'assignPrepared', params: ({ event }) => event.output }, 'spawnHead'],
            },
            onError: { target: '#localCluster.failing', actions: { type: 'failFromError', params: errorOf } },
          },
        },
        launchingHead: {
          entry: { type: 'enterStep', params: 'dashboard' },
          invoke: {
            src: 'waitForHead',
            input: ({ context, self }) => ({
              tempDir: context.tempDir!,
              ports: context.nodes.head!.ports!,
              owner: dashboardOwner(context.id, context.createdAt),
              report: self,
            }),
            onDone: {
              target: 'launchingWorkers',
              actions: [{ type: 'assignRay', params: ({ event }) => event.output }, 'spawnPendingWorkers'],
            },
            onError: { target: '#localCluster.failing', actions: { type: 'failFromError', params: errorOf } },
          },
        },
        launchingWorkers: {
          entry: { type: 'enterStep', params: 'head' },
          invoke: {
            src: 'waitForNodes',
            input: ({ context, self }) => ({
              dashboard: dashboardOf(context),
              names: Object.keys(context.nodes),
              jobAgent: jobAgentOf(context),
              report: self,
            }),
            onDone: {
              target: '#localCluster.up',
              actions: [
                { type: 'assignNodeIds', params: ({ event }) => event.output.nodeIds },
                { type: 'markStarted', params: ({ event }) => event.output.at },
              ],
            },
            onError: { target: '#localCluster.failing', actions: { type: 'failFromError', params: errorOf } },
          },
        },
      },
    },
    up: {
      type: 'parallel',
      entry: 'answerReady',
      // A stop that arrived while adopting.
      always: { guard: 'stopRequested', target: 'stopping' },
      on: {
        'node.launched': { actions: 'markLaunched' },
        'node.exited': [
          { guard: 'isHead', target: 'failing', actions: ['markExited', 'failFromExit'] },
          // A worker we are removing: its exit is the point, not a fault.
          { guard: 'isRemoving' },
          { actions: 'markExited' },
        ],
        'ray.health': { actions: 'assignHealth' },
        'cluster.awaitReady': { actions: 'answerNow' },
        'cluster.stop': { target: 'stopping', actions: 'waitStop' },
        'cluster.shutdown': { target: 'stopping' },
      },
      states: {
        // The health watcher is restarted after a pause if it ever fails.
        watch: {
          initial: 'on',
          states: {
            on: {
              invoke: {
                src: 'healthWatcher',
                input: ({ context }) => ({ dashboard: dashboardOf(context) }),
                onError: { target: 'backoff', actions: { type: 'noteChildFailure', params: errorOf } },
              },
            },
            backoff: { after: { [WATCHER_BACKOFF_MS]: 'on' } },
          },
        },
        health: {
          initial: 'running',
          states: {
            running: { always: { guard: 'hasExitedWorker', target: 'degraded' } },
            degraded: { always: { guard: not('hasExitedWorker'), target: 'running' } },
          },
        },
        details: {
          initial: 'idle',
          states: {
            idle: { on: { 'cluster.describe': { target: 'fetching', actions: 'waitDescribe' } } },
            fetching: {
              on: { 'cluster.describe': { actions: 'waitDescribe' } },
              invoke: {
                src: 'describeCluster',
                input: ({ context }) => ({ dashboard: dashboardOf(context) }),
                onDone: {
                  target: 'idle',
                  actions: [{ type: 'assignDetails', params: ({ event }) => event.output }, 'answerDescribe'],
                },
                // The dashboard may be briefly away: answer with what we know.
                onError: { target: 'idle', actions: 'answerDescribe' },
              },
            },
          },
        },
        scaling: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                'cluster.scale': [
                  { guard: 'scaleUp', target: 'reserving', actions: 'planAdd' },
                  { guard: 'scaleDown', target: 'choosing', actions: 'planRemove' },
                  { actions: 'answerNow' },
                ],
              },
            },
            reserving: {
              invoke: {
                src: 'reservePorts',
                input: ({ context }) => ({ clusterId: context.id, nodes: context.scale!.names }),
                onDone: {
                  target: 'joining',
                  actions: [
                    { type: 'assignScalePorts', params: ({ event }) => event.output },
                    'spawnPendingWorkers',
                  ],
                },
                onError: {
                  target: 'idle',
                  actions: ['dropUnlaunched', { type: 'failScale', params: errorOf }],
                },
              },
            },
            joining: {
              invoke: {
                src: 'waitForNodes',
                input: ({ context }) => ({
                  dashboard: dashboardOf(context),
                  names: context.scale!.names,
                }),
                onDone: {
                  target: 'idle',
                  actions: [
                    { type: 'assignNodeIds', params: ({ event }) => event.output.nodeIds },
                    'finishScale',
                  ],
                },
                onError: { target: 'idle', actions: { type: 'failScale', params: errorOf } },
              },
              after: {
                startTimeout: {
                  target: 'idle',
                  actions: {
                    type: 'failScale',
                    params: ({ context }) => ({
                      error: new RayMcpError(
                        'timeout',
                        `The new workers of cluster ${context.id} did not join within ${Math.round(context.timeoutMs / 1000)} s.`,
                        'The machine may be overloaded: check it with inspect_ray_cluster, or scale to fewer workers.',
                      ),
                    }),
                  },
                },
              },
            },
            choosing: {
              invoke: {
                src: 'pickWorkersToRemove',
                input: ({ context }) => {
                  const live = liveOfType(context, context.scale!.nodeType);
                  return {
                    dashboard: dashboardOf(context),
                    candidates: live.map((n) => ({ name: n.name, nodeId: n.nodeId })),
                    count: live.length - context.scale!.target,
                  };
                },
                onDone: {
                  target: 'draining',
                  actions: { type: 'markRemoving', params: ({ event }) => event.output },
                },
                onError: { target: 'idle', actions: { type: 'failScale', params: errorOf } },
              },
            },
            draining: {
              invoke: {
                src: 'stopNodes',
                input: ({ context }) => ({
                  clusterId: context.id,
                  nodes: context.scale!.names.map((name) => ({
                    name,
                    role: 'worker' as const,
                    pid: context.nodes[name]?.pid,
                  })),
                  release: context.scale!.names.map((name) => leaseOwner(context.id, name)),
                  removeTempDir: false,
                  graceMs: 15_000,
                }),
                onDone: { target: 'idle', actions: ['dropRemoved', 'finishScale'] },
                onError: { target: 'idle', actions: { type: 'failScale', params: errorOf } },
              },
            },
          },
          on: { 'cluster.scale': { actions: 'refuseScale' } },
        },
      },
    },
    failing: {
      // A failed start or a dead head: stop whatever of the cluster still runs, keep its logs.
      entry: 'answerReady',
      on: {
        'cluster.stop': { actions: 'waitStop' },
        'cluster.shutdown': { actions: 'requestShutdown' },
      },
      invoke: {
        src: 'stopNodes',
        // With the head gone nothing can drain: do not wait for it. Keep the logs for the report.
        // A record adopted as failed: its pids may belong to strangers now; only its temp dir tells.
        input: ({ context }) =>
          stopWholeCluster(context, {
            removeTempDir: false,
            graceMs: 2000,
            byTempDirOnly: context.adopted === 'failed',
          }),
        onDone: {
          target: 'failed',
          actions: [
            'stopNodeChildren',
            // A start that timed out has no exit to explain it: show what the head printed.
            // The logs stay until the user stops the cluster: say where.
            assign({
              error: ({ context, event }) =>
                context.error && {
                  ...context.error,
                  excerpt: context.error.excerpt ?? event.output.headExcerpt,
                  logDir: context.error.logDir ?? context.tempDir,
                },
            }),
          ],
        },
        onError: {
          target: 'failed',
          actions: ['stopNodeChildren', { type: 'noteCleanupFailure', params: errorOf }],
        },
      },
    },
    failed: {
      entry: 'answerReady',
      always: { guard: 'stopRequested', target: 'stopping' },
      on: {
        'cluster.awaitReady': { actions: ['waitReady', 'answerReady'] },
        'cluster.stop': { target: 'stopping', actions: 'waitStop' },
        'cluster.shutdown': { target: 'stopping' },
      },
    },
    stopping: {
      entry: 'answerReadyStopped',
      on: { 'cluster.stop': { actions: 'waitStop' } },
      invoke: {
        src: 'stopNodes',
        input: ({ context }) => stopWholeCluster(context, { removeTempDir: true, graceMs: 15_000 }),
        onDone: { target: 'stopped' },
        onError: { target: 'stopped', actions: { type: 'noteCleanupFailure', params: errorOf } },
      },
    },
    stopped: {
      entry: ['stopNodeChildren', 'answerReadyStopped', 'answerStop', 'notifyStopped'],
      on: {
        'cluster.stop': { actions: 'answerNow' },
        'cluster.awaitReady': { actions: 'answerNow' },
      },
    },
  },
});

export type LocalClusterActor = ActorRefFrom<typeof localClusterMachine>;
export type LocalClusterSnapshot = ReturnType<LocalClusterActor['getSnapshot']>;

function newNode(
  tempDir: string | undefined,
  name: string,
  nodeType: string,
  role: 'head' | 'worker',
  resources: NodeResources,
): NodeRecord {
  return {
    name,
    nodeType,
    role,
    resources,
    state: 'pending',
    logFile: tempDir ? `${tempDir}/${name}.log` : '',
  };
}

/** The head's dashboard agent (its job API), when its port is known. */
function jobAgentOf(context: LocalClusterContext): DashboardTarget | undefined {
  const port = context.nodes.head?.ports?.agentListen;
  return port
    ? { url: `http://127.0.0.1:${port}`, owner: dashboardOwner(context.id, context.createdAt) }
    : undefined;
}

/** Pause before the process table is read again: 2 s doubling to 30 s. */
export function uncertainBackoff(checks: number): number {
  return Math.min(30_000, 2000 * 2 ** Math.max(0, checks - 1));
}

/** Every live node of the cluster, all its ports, and (when asked) its temp dir. */
function stopWholeCluster(
  context: LocalClusterContext,
  opts: { removeTempDir: boolean; graceMs: number; byTempDirOnly?: boolean },
): StopNodesInput {
  const { byTempDirOnly, ...rest } = opts;
  return {
    clusterId: context.id,
    nodes: byTempDirOnly
      ? []
      : Object.values(context.nodes)
          .filter(live)
          .map((n) => ({ name: n.name, role: n.role, pid: n.pid })),
    tempDir: context.tempDir,
    release: [`cluster:${context.id}`],
    headLog: context.nodes.head?.logFile || undefined,
    ...rest,
  };
}

function liveOfType(context: LocalClusterContext, nodeType: string): NodeRecord[] {
  return Object.values(context.nodes).filter(
    (n) => n.role === 'worker' && n.nodeType === nodeType && n.state !== 'exited' && n.state !== 'removing',
  );
}

/** The status every tool shows, from the machine's state. */
// biome-ignore lint/suspicious/noExplicitAny: matches() is typed per machine; any state value is fine here
export function statusOf(snapshot: { matches(state: any): boolean }): LocalClusterRecord['status'] {
  if (
    snapshot.matches('starting') ||
    snapshot.matches('init') ||
    snapshot.matches('checkingAlive') ||
    snapshot.matches('unsure') ||
    snapshot.matches('adopting')
  )
    return 'starting';
  // Found dead after a restart: stopped already, whatever its leftovers' cleanup still does.
  if (snapshot.matches('reaping')) return 'stopped';
  if (snapshot.matches({ up: { health: 'degraded' } })) return 'degraded';
  if (snapshot.matches('up')) return 'running';
  if (snapshot.matches('failing') || snapshot.matches('failed')) return 'failed';
  if (snapshot.matches('stopping')) return 'stopping';
  return 'stopped';
}

/**
 * The status the state file keeps: while an adopted cluster is being checked, the status it was
 * recorded with (a restart killed mid-check must not turn a running cluster into `starting`).
 */
// biome-ignore lint/suspicious/noExplicitAny: as statusOf
export function recordStatusOf(snapshot: { matches(state: any): boolean; context: LocalClusterContext }) {
  const undecided =
    snapshot.matches('init') ||
    snapshot.matches('checkingAlive') ||
    snapshot.matches('unsure') ||
    snapshot.matches('adopting');
  return undecided && snapshot.context.recordedStatus ? snapshot.context.recordedStatus : statusOf(snapshot);
}

export { leaseOwner };
