/**
 * A Ray cluster ray-mcp did not start: it connects, watches and describes it, and `stop` only
 * disconnects. No process of it is ever touched.
 *
 *   connecting ──▶ connected(reachable ⇄ unreachable) ──▶ stopped
 *        └──▶ failed ──────────────────────────────────────┘
 */
import {
  type ActorRefFrom,
  assign,
  enqueueActions,
  fromEventObservable,
  fromPromise,
  sendParent,
  setup,
} from 'xstate';
import type { ClusterStatus } from '../domain/cluster.js';
import type {
  ClusterDetails,
  ClusterHealth,
  RayEndpoints,
  RayHealthEvent,
} from '../domain/cluster-record.js';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type DashboardTarget, dashboardOwner } from '../domain/dashboard.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';
import { type ChildErrorEvent, errorOf } from './child-events.js';

export type ExternalClusterEvent =
  | { type: 'cluster.awaitReady'; requestId: string }
  | { type: 'cluster.stop'; requestId: string }
  | { type: 'cluster.describe'; requestId: string }
  | { type: 'ray.health'; health: ClusterHealth }
  | { type: 'cluster.shutdown' };

export interface ExternalClusterInput {
  id: string;
  address: string;
  createdAt: number;
}

/** The cluster's endpoints, and when its dashboard answered. */
export interface ExternalConnected {
  ray: RayEndpoints;
  connectedAt: number;
}

export interface ExternalClusterContext {
  id: string;
  address: string;
  createdAt: number;
  connectedAt?: number;
  ray?: RayEndpoints;
  health?: ClusterHealth;
  details?: ClusterDetails;
  error?: ErrorInfo;
  waiting: string[];
}

/** The dashboard of this cluster actor instance. */
const dashboardOf = (c: ExternalClusterContext): DashboardTarget => ({
  url: c.ray!.dashboardUrl,
  owner: dashboardOwner(c.id, c.createdAt),
});

export const externalClusterMachine = setup({
  types: {
    context: {} as ExternalClusterContext,
    input: {} as ExternalClusterInput,
    events: {} as ExternalClusterEvent | ChildErrorEvent,
    emitted: {} as Answer,
  },
  actors: {
    connectExternal: fromPromise<ExternalConnected, { address: string; owner: string }>(async () => {
      throw new Error('provided by src/actors/external-cluster.actor.ts');
    }),
    describeCluster: fromPromise<ClusterDetails, { dashboard: DashboardTarget }>(async () => {
      throw new Error('provided by src/actors/local-cluster.actor.ts');
    }),
    healthWatcher: fromEventObservable<RayHealthEvent, { dashboard: DashboardTarget }>(() => {
      throw new Error('provided by src/watchers/cluster-health.watcher.ts');
    }),
  },
  guards: {
    healthy: ({ event }) => event.type === 'ray.health' && event.health.ok,
  },
  actions: {
    answerNow: enqueueActions(({ event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerOk(event.requestId));
    }),
    wait: assign({
      waiting: ({ context, event }) =>
        'requestId' in event ? [...context.waiting, event.requestId] : context.waiting,
    }),
    answerWaiting: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting)
        enqueue.emit(context.error ? answerError(id, context.error) : answerOk(id));
      enqueue.assign({ waiting: [] });
    }),
    answerError: enqueueActions(({ context, event, enqueue }) => {
      if (!('requestId' in event)) return;
      enqueue.emit(
        answerError(
          event.requestId,
          context.error ?? {
            code: 'unavailable',
            message: `Cluster ${context.id} failed.`,
            fix: 'Connect again.',
          },
        ),
      );
    }),
    assignHealth: assign({
      health: ({ context, event }) => (event.type === 'ray.health' ? event.health : context.health),
    }),
    assignConnected: assign((_, { ray, connectedAt }: ExternalConnected) => ({ ray, connectedAt })),
    noteChildFailure: assign((_, { error }: { error: unknown }) => ({
      error: {
        ...toErrorInfo(error),
        fix: 'ray-mcp restarts its watcher by itself; inspect_ray_cluster shows the state.',
      },
    })),
    notifyStopped: sendParent(({ context }) => ({ type: 'cluster.stopped', clusterId: context.id })),
  },
}).createMachine({
  id: 'externalCluster',
  context: ({ input }) => ({ id: input.id, address: input.address, createdAt: input.createdAt, waiting: [] }),
  on: {
    'cluster.describe': { actions: 'answerNow' },
    'cluster.awaitReady': { actions: 'answerNow' },
    'cluster.stop': { target: '.stopped', actions: 'answerNow' },
    'cluster.shutdown': { target: '.stopped' },
    'xstate.error.actor.*': { actions: { type: 'noteChildFailure', params: errorOf } },
  },
  initial: 'connecting',
  states: {
    watcherBackoff: { after: { 2000: 'connected' } },
    connecting: {
      on: { 'cluster.awaitReady': { actions: 'wait' } },
      invoke: {
        src: 'connectExternal',
        input: ({ context }) => ({
          address: context.address,
          owner: dashboardOwner(context.id, context.createdAt),
        }),
        onDone: {
          target: 'connected',
          actions: [{ type: 'assignConnected', params: ({ event }) => event.output }, 'answerWaiting'],
        },
        onError: {
          target: 'failed',
          actions: [assign({ error: ({ event }) => toErrorInfo(event.error) }), 'answerWaiting'],
        },
      },
    },
    connected: {
      invoke: {
        src: 'healthWatcher',
        input: ({ context }) => ({ dashboard: dashboardOf(context) }),
        // The watcher failed: start it again after a pause (re-entering reconnects it).
        onError: { target: 'watcherBackoff', actions: { type: 'noteChildFailure', params: errorOf } },
      },
      initial: 'reachable',
      on: { 'ray.health': { actions: 'assignHealth' } },
      states: {
        reachable: {
          on: {
            'ray.health': {
              guard: ({ event }) => !event.health.ok,
              target: 'unreachable',
              actions: 'assignHealth',
            },
          },
          initial: 'idle',
          states: {
            idle: { on: { 'cluster.describe': { target: 'fetching', actions: 'wait' } } },
            fetching: {
              on: { 'cluster.describe': { actions: 'wait' } },
              invoke: {
                src: 'describeCluster',
                input: ({ context }) => ({ dashboard: dashboardOf(context) }),
                onDone: {
                  target: 'idle',
                  actions: [assign({ details: ({ event }) => event.output }), 'answerWaiting'],
                },
                onError: { target: 'idle', actions: 'answerWaiting' },
              },
            },
          },
        },
        unreachable: {
          on: { 'ray.health': { guard: 'healthy', target: 'reachable', actions: 'assignHealth' } },
        },
      },
    },
    // A connection that failed answers with its error, never with a success.
    failed: { on: { 'cluster.awaitReady': { actions: 'answerError' } } },
    stopped: {
      entry: ['answerWaiting', 'notifyStopped'],
      on: { 'cluster.stop': { actions: 'answerNow' } },
    },
  },
});

export type ExternalClusterActor = ActorRefFrom<typeof externalClusterMachine>;

// biome-ignore lint/suspicious/noExplicitAny: matches() is typed per machine; any state value is fine here
export function externalStatusOf(snapshot: { matches(state: any): boolean }): ClusterStatus {
  if (snapshot.matches('connecting')) return 'starting';
  if (snapshot.matches({ connected: 'unreachable' })) return 'degraded';
  if (snapshot.matches('connected')) return 'running';
  if (snapshot.matches('failed')) return 'failed';
  return 'stopped';
}
