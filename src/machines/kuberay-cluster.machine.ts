/**
 * A Ray cluster on Kubernetes: one RayCluster custom resource, driven by the KubeRay operator and
 * seen through its connection's informers (k8s.rayCluster, k8s.pods). Registered as
 * `cluster:<id>` like local clusters, so every cluster and job tool serves both.
 *
 *   applying ─▶ starting ─ready─▶ up(running ⇄ degraded; ops: idle ⇄ scaling) ─stop─▶ deleting ─pods gone─▶ stopped
 *      └──────────┴──▶ failed (an owned cluster that never got ready is deleted, so nothing is left)
 *   attaching (a RayCluster the user named) ─▶ starting …; stop only forgets it unless asked to delete
 */
import {
  type ActorRefFrom,
  assign,
  enqueueActions,
  fromPromise,
  type SnapshotFrom,
  sendParent,
  setup,
} from 'xstate';
import type { ClusterStatus } from '../domain/cluster.js';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';
import type { KubeRayClusterSpec, PodSummary, RayClusterSummary } from '../domain/kuberay.js';
import type { KubeClusterFact, KubeTrackEvent } from './kube-connection.machine.js';
import { kubeSystemId } from './kube-connection.machine.js';

export interface ScaleRequest {
  group: string;
  replicas?: number;
  minReplicas?: number;
  maxReplicas?: number;
  workersToDelete?: string[];
  /** The user set maxReplicas in this scale: the group's bound is theirs from now on. */
  maxSet?: boolean;
}

export type KubeRayClusterCommand =
  | { type: 'cluster.awaitReady'; requestId: string }
  | { type: 'cluster.describe'; requestId: string }
  | { type: 'cluster.scale'; requestId: string; scale: ScaleRequest }
  /** delete: remove the RayCluster even though ray-mcp did not create it (the user named it). */
  | { type: 'cluster.stop'; requestId: string; delete?: boolean }
  | { type: 'cluster.shutdown' };

export type KubeRayClusterEvent = KubeRayClusterCommand | KubeClusterFact;

export interface KubeRayClusterInput {
  id: string;
  connectionId: string;
  namespace: string;
  name: string;
  /** Given: apply it. Absent: attach to an existing RayCluster. */
  spec?: KubeRayClusterSpec;
  owned: boolean;
  createdAt: number;
  timeoutMs: number;
}

export interface KubeRayClusterContext extends KubeRayClusterInput {
  cr?: RayClusterSummary;
  pods: PodSummary[];
  link: 'connected' | 'lost' | 'failed' | 'disconnected';
  linkMessage?: string;
  /** API server URL and context name of the connection, once it told us. */
  server?: string;
  kubeContext?: string;
  startedAt?: number;
  error?: ErrorInfo;
  note?: string;
  /** generation: of the patched RayCluster; the scale is done once the watch shows it (or newer). */
  scaleTarget?: ScaleRequest & { replicasAfter: number; generation?: number };
  deleteRequested: boolean;
  /** The delete request has been answered (deleting waits for it before it counts the cluster gone). */
  deleteIssued?: boolean;
  /** Our apply went through: a failed start may delete what we made (and nothing else). */
  applied: boolean;
  waiting: string[];
}

const readyPods = (pods: PodSummary[], group: string) =>
  pods.filter((p) => p.group === group && p.ready && !p.deleting).length;

/** Workers the spec asks for, and how many worker pods are ready now (our count, not the operator's lagging status). */
export function workerCounts(c: Pick<KubeRayClusterContext, 'cr' | 'pods'>): {
  desired: number;
  ready: number;
} {
  const desired = (c.cr?.groups ?? []).reduce((n, g) => n + g.replicas, 0);
  const ready = c.pods.filter((p) => p.nodeType === 'worker' && p.ready && !p.deleting).length;
  return { desired, ready };
}

export function clusterIsReady(c: Pick<KubeRayClusterContext, 'cr' | 'pods'>): boolean {
  if (!c.cr || c.cr.deleting) return false;
  const head = c.pods.find((p) => p.nodeType === 'head' && !p.deleting);
  const { desired, ready } = workerCounts(c);
  return Boolean(head?.ready) && ready >= desired;
}

/** When the cluster got ready, as Kubernetes tells it: the time the last of its ready pods became ready. */
export function readySince(pods: PodSummary[]): number | undefined {
  const times = pods.flatMap((p) => (p.ready && !p.deleting && p.readyAt !== undefined ? [p.readyAt] : []));
  return times.length ? Math.max(...times) : undefined;
}

export function clusterIsHealthy(c: Pick<KubeRayClusterContext, 'cr' | 'pods' | 'link'>): boolean {
  return c.link === 'connected' && clusterIsReady(c);
}

/** Why pods are not ready, for a failed start: the distinct reasons with the pods they hit. */
export function podProblems(pods: PodSummary[]): string | undefined {
  const bad = pods.filter((p) => !p.ready && !p.deleting);
  if (!bad.length) return undefined;
  const byReason = new Map<string, string[]>();
  for (const p of bad) {
    const r = `${p.phase}${p.reason ? `/${p.reason}` : ''}${p.message ? ` (${p.message.slice(0, 160)})` : ''}`;
    byReason.set(r, [...(byReason.get(r) ?? []), p.name]);
  }
  return [...byReason]
    .map(
      ([r, names]) =>
        `${names.slice(0, 3).join(', ')}${names.length > 3 ? ` +${names.length - 3}` : ''}: ${r}`,
    )
    .join('; ');
}

export const kuberayClusterMachine = setup({
  types: {
    context: {} as KubeRayClusterContext,
    input: {} as KubeRayClusterInput,
    events: {} as KubeRayClusterEvent,
    emitted: {} as Answer,
  },
  actors: {
    applyRayCluster: fromPromise<RayClusterSummary, { connectionId: string; spec: KubeRayClusterSpec }>(
      async () => {
        throw new Error('provided by src/actors/kuberay.actor.ts');
      },
    ),
    patchScale: fromPromise<
      number,
      { connectionId: string; namespace: string; name: string; cr: RayClusterSummary; scale: ScaleRequest }
    >(async () => {
      throw new Error('provided by src/actors/kuberay.actor.ts');
    }),
    deleteRayCluster: fromPromise<
      void,
      { connectionId: string; namespace: string; name: string; uid?: string }
    >(async () => {
      throw new Error('provided by src/actors/kuberay.actor.ts');
    }),
  },
  delays: {
    startTimeout: ({ context }) => context.timeoutMs,
    scaleTimeout: 180_000,
    deleteTimeout: 120_000,
  },
  guards: {
    hasSpec: ({ context }) => context.spec !== undefined,
    ready: ({ context }) => clusterIsReady(context),
    healthy: ({ context }) => clusterIsHealthy(context),
    unhealthy: ({ context }) => !clusterIsHealthy(context),
    shouldDelete: ({ context, event }) =>
      context.owned || (event.type === 'cluster.stop' && event.delete === true),
    podsGone: ({ context }) => context.cr === undefined && context.pods.length === 0,
    // A stop during the apply may race the create: the delete must have run before "gone" counts.
    deletedAndGone: ({ context }) =>
      context.deleteIssued === true && context.cr === undefined && context.pods.length === 0,
    seenBefore: ({ context }) => context.cr !== undefined,
    scaled: ({ context }) => {
      const t = context.scaleTarget;
      if (!t) return true;
      const g = context.cr?.groups.find((x) => x.name === t.group);
      if (!g || g.replicas !== t.replicasAfter) return false;
      // The answer must show the patch itself (bounds too), not a view from before it.
      if (t.generation !== undefined && (context.cr?.generation ?? 0) < t.generation) return false;
      const inGroup = context.pods.filter((p) => p.group === t.group);
      return (
        readyPods(inGroup, t.group) === t.replicasAfter &&
        inGroup.every((p) => !p.deleting) &&
        inGroup.length === t.replicasAfter
      );
    },
    createdByThisActor: ({ context }) => context.owned && context.applied,
    stopWaiting: ({ context }) => context.waiting.length > 0,
  },
  actions: {
    track: enqueueActions(({ context, enqueue }) => {
      const e: KubeTrackEvent = {
        type: 'kube.track',
        namespace: context.namespace,
        name: context.name,
        systemId: `cluster:${context.id}`,
      };
      enqueue.sendTo(({ system }) => system.get(kubeSystemId(context.connectionId)), e);
    }),
    untrack: enqueueActions(({ context, enqueue }) => {
      const e: KubeTrackEvent = { type: 'kube.untrack', namespace: context.namespace, name: context.name };
      enqueue.sendTo(({ system }) => system.get(kubeSystemId(context.connectionId)), e);
    }),
    assignFact: assign(({ context, event }) => {
      if (event.type === 'k8s.rayCluster') return { cr: event.summary };
      if (event.type === 'k8s.rayClusterGone') return { cr: undefined };
      if (event.type === 'k8s.pods') return { pods: event.pods };
      if (event.type === 'kube.link') {
        return {
          link: event.state,
          linkMessage: event.message,
          server: event.server ?? context.server,
          kubeContext: event.context ?? context.kubeContext,
        };
      }
      return context;
    }),
    wait: assign({
      waiting: ({ context, event }) =>
        'requestId' in event ? [...context.waiting, event.requestId] : context.waiting,
    }),
    answerNow: enqueueActions(({ event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerOk(event.requestId));
    }),
    answerWaiting: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting)
        enqueue.emit(context.error ? answerError(id, context.error) : answerOk(id));
      enqueue.assign({ waiting: [] });
    }),
    refuseBusy: enqueueActions(({ context, event, enqueue }) => {
      if (!('requestId' in event)) return;
      enqueue.emit(
        answerError(event.requestId, {
          code: 'conflict',
          message: `Cluster ${context.id} is ${context.scaleTarget ? `scaling worker group ${context.scaleTarget.group}` : 'not running'}.`,
          fix: 'Wait until it is running (inspect_ray_cluster shows its status), then try again.',
        }),
      );
    }),
    refuseStopped: enqueueActions(({ context, event, enqueue }) => {
      if (!('requestId' in event)) return;
      enqueue.emit(
        answerError(event.requestId, {
          code: 'conflict',
          message: `Cluster ${context.id} is stopped.`,
          fix: 'Start a new one with init_ray_cluster.',
        }),
      );
    }),
    forgetFailure: assign({
      note: ({ context }) => context.error && `Its start had failed: ${context.error.message}`.slice(0, 400),
      error: undefined,
    }),
    notifyStopped: sendParent(({ context }) => ({ type: 'cluster.stopped', clusterId: context.id })),
    /** Up since its pods got ready; back in `up` after a failed delete, it has been up all along. */
    markStarted: assign({ startedAt: ({ context }) => context.startedAt ?? readySince(context.pods) }),
  },
}).createMachine({
  id: 'kuberayCluster',
  context: ({ input }) => ({
    ...input,
    pods: [],
    link: 'connected',
    waiting: [],
    deleteRequested: false,
    applied: false,
  }),
  entry: 'track',
  on: {
    'k8s.rayCluster': { actions: 'assignFact' },
    'k8s.pods': { actions: 'assignFact' },
    'kube.link': { actions: 'assignFact' },
    'cluster.describe': { actions: 'answerNow' },
    'cluster.scale': { actions: 'refuseBusy' },
    'cluster.shutdown': { target: '.detached' },
  },
  initial: 'init',
  states: {
    init: { always: [{ guard: 'hasSpec', target: 'applying' }, { target: 'starting' }] },
    applying: {
      on: {
        'cluster.awaitReady': { actions: 'wait' },
        'cluster.stop': { target: 'deleting', actions: ['wait', assign({ deleteRequested: true })] },
      },
      invoke: {
        src: 'applyRayCluster',
        input: ({ context }) => ({ connectionId: context.connectionId, spec: context.spec! }),
        onDone: {
          target: 'starting',
          actions: assign({ cr: ({ context, event }) => context.cr ?? event.output, applied: true }),
        },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => toErrorInfo(event.error) }) },
      },
    },
    starting: {
      on: {
        'cluster.awaitReady': { actions: 'wait' },
        'k8s.rayCluster': { actions: 'assignFact', target: 'starting', reenter: false },
        'k8s.rayClusterGone': [
          {
            guard: 'seenBefore',
            target: 'stopped',
            actions: [
              'assignFact',
              assign({
                note: ({ context }) =>
                  `RayCluster ${context.namespace}/${context.name} was deleted outside ray-mcp.`,
              }),
            ],
          },
          { actions: 'assignFact' },
        ],
        'cluster.stop': [
          { guard: 'shouldDelete', target: 'deleting', actions: ['wait', assign({ deleteRequested: true })] },
          { target: 'stopped', actions: 'wait' },
        ],
      },
      always: { guard: 'ready', target: 'up' },
      after: {
        startTimeout: {
          target: 'failed',
          actions: assign({
            error: ({ context }) => ({
              code: 'timeout' as const,
              message:
                `RayCluster ${context.namespace}/${context.name} was not ready within ${Math.round(context.timeoutMs / 1000)} s` +
                (context.cr?.state
                  ? ` (state ${context.cr.state})`
                  : context.cr
                    ? ''
                    : ' (the KubeRay operator never reported on it: is it running?)') +
                (podProblems(context.pods)
                  ? `. Pods: ${podProblems(context.pods)}`
                  : context.cr && !context.pods.length
                    ? '. No pods were created.'
                    : '.'),
              fix: 'Check the pod reasons above (Unschedulable: not enough CPU/memory/GPU; ImagePullBackOff: image name or registry access), or give a longer timeout_seconds.',
            }),
          }),
        },
      },
    },
    up: {
      entry: ['markStarted', 'answerWaiting'],
      on: {
        'cluster.awaitReady': { actions: 'answerNow' },
        'k8s.rayClusterGone': {
          target: 'stopped',
          actions: [
            'assignFact',
            assign({
              note: ({ context }) =>
                `RayCluster ${context.namespace}/${context.name} was deleted outside ray-mcp.`,
            }),
          ],
        },
        'cluster.stop': [
          { guard: 'shouldDelete', target: 'deleting', actions: ['wait', assign({ deleteRequested: true })] },
          { target: 'stopped', actions: 'wait' },
        ],
      },
      type: 'parallel',
      states: {
        health: {
          initial: 'running',
          states: {
            running: { always: { guard: 'unhealthy', target: 'degraded' } },
            degraded: { always: { guard: 'healthy', target: 'running' } },
          },
        },
        ops: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                'cluster.scale': {
                  target: 'patching',
                  actions: [
                    'wait',
                    assign({
                      scaleTarget: ({ context, event }) => {
                        const g = context.cr?.groups.find((x) => x.name === event.scale.group);
                        const current = g?.replicas ?? 0;
                        const replicasAfter =
                          event.scale.replicas ??
                          Math.max(0, current - (event.scale.workersToDelete?.length ?? 0));
                        return { ...event.scale, replicasAfter };
                      },
                      error: undefined,
                    }),
                  ],
                },
              },
            },
            patching: {
              on: { 'cluster.scale': { actions: 'refuseBusy' } },
              invoke: {
                src: 'patchScale',
                input: ({ context }) => ({
                  connectionId: context.connectionId,
                  namespace: context.namespace,
                  name: context.name,
                  cr: context.cr!,
                  scale: { ...context.scaleTarget!, replicas: context.scaleTarget!.replicasAfter },
                }),
                onDone: {
                  target: 'converging',
                  actions: assign({
                    scaleTarget: ({ context, event }) =>
                      context.scaleTarget && { ...context.scaleTarget, generation: event.output },
                  }),
                },
                onError: {
                  target: 'idle',
                  actions: [
                    assign({ error: ({ event }) => toErrorInfo(event.error) }),
                    'answerWaiting',
                    assign({ error: undefined, scaleTarget: undefined }),
                  ],
                },
              },
            },
            converging: {
              on: { 'cluster.scale': { actions: 'refuseBusy' } },
              always: {
                guard: 'scaled',
                target: 'idle',
                actions: ['answerWaiting', assign({ scaleTarget: undefined })],
              },
              after: {
                scaleTimeout: {
                  target: 'idle',
                  actions: [
                    assign({
                      error: ({ context }) => ({
                        code: 'timeout' as const,
                        message: `Worker group ${context.scaleTarget?.group} did not reach ${context.scaleTarget?.replicasAfter} ready worker(s) within 180 s. Pods: ${podProblems(context.pods) ?? 'none pending'}.`,
                        fix: 'The new size is set; KubeRay keeps trying. Check inspect_ray_cluster for pod reasons.',
                      }),
                    }),
                    'answerWaiting',
                    assign({ error: undefined, scaleTarget: undefined }),
                  ],
                },
              },
            },
          },
        },
      },
    },
    failed: {
      entry: 'answerWaiting',
      initial: 'check',
      states: {
        check: { always: [{ guard: 'createdByThisActor', target: 'cleaning' }, { target: 'done' }] },
        // A cluster we created that never got ready: delete it, so no pod keeps waiting for a node.
        cleaning: {
          // A stop waits until what we made is deleted.
          on: { 'cluster.stop': { actions: 'wait' } },
          invoke: {
            src: 'deleteRayCluster',
            input: ({ context }) => ({
              connectionId: context.connectionId,
              namespace: context.namespace,
              name: context.name,
              uid: context.cr?.uid,
            }),
            onDone: { target: 'done' },
            onError: { target: 'done' },
          },
        },
        done: {
          always: { guard: 'stopWaiting', target: '#kuberayCluster.stopped', actions: 'forgetFailure' },
        },
      },
      on: {
        'cluster.awaitReady': {
          actions: enqueueActions(({ context, event, enqueue }) =>
            enqueue.emit(answerError(event.requestId, context.error!)),
          ),
        },
        // The start's failure was the start's answer; the stop succeeds (nothing of it runs).
        'cluster.stop': { target: 'stopped', actions: ['wait', 'forgetFailure'] },
      },
    },
    deleting: {
      entry: assign({ deleteIssued: false }),
      invoke: {
        src: 'deleteRayCluster',
        input: ({ context }) => ({
          connectionId: context.connectionId,
          namespace: context.namespace,
          name: context.name,
          uid: context.cr?.uid,
        }),
        onDone: { actions: assign({ deleteIssued: true }) },
        onError: {
          target: 'up',
          actions: [
            assign({ error: ({ event }) => toErrorInfo(event.error) }),
            'answerWaiting',
            assign({ error: undefined, deleteRequested: false }),
          ],
        },
      },
      on: {
        'cluster.stop': { actions: 'wait' },
        'cluster.awaitReady': { actions: 'refuseStopped' },
        'k8s.rayClusterGone': { actions: 'assignFact' },
      },
      always: { guard: 'deletedAndGone', target: 'stopped' },
      after: {
        deleteTimeout: {
          target: 'stopped',
          actions: assign({
            note: ({ context }) =>
              `Deleted RayCluster ${context.namespace}/${context.name}; ${context.pods.length} pod(s) were still terminating after 120 s.`,
          }),
        },
      },
    },
    stopped: {
      entry: ['answerWaiting', 'untrack', 'notifyStopped'],
      on: {
        'cluster.stop': { actions: 'answerNow' },
        'cluster.awaitReady': { actions: 'refuseStopped' },
        'cluster.shutdown': {},
      },
    },
    // The server exits: the RayCluster lives on in Kubernetes (it is not a process of ours).
    detached: { type: 'final', entry: ['untrack', 'answerWaiting', 'notifyStopped'] },
  },
});

export type KubeRayClusterActor = ActorRefFrom<typeof kuberayClusterMachine>;
export type KubeRayClusterSnapshot = SnapshotFrom<typeof kuberayClusterMachine>;

// biome-ignore lint/suspicious/noExplicitAny: matches() is typed per machine
export function kuberayStatusOf(s: { matches(state: any): boolean }): ClusterStatus {
  if (s.matches('init') || s.matches('applying') || s.matches('starting')) return 'starting';
  if (s.matches({ up: { health: 'degraded' } })) return 'degraded';
  if (s.matches('up')) return 'running';
  if (s.matches('failed')) return 'failed';
  if (s.matches('deleting')) return 'stopping';
  return 'stopped';
}
