/**
 * One cloud provider's connection (GKE or EKS; one actor each, `cloud:gke` and `cloud:eks`).
 *
 *   unconfigured ──authenticate──▶ authenticating ──▶ authenticated ──credentials rejected──▶ failed
 *        │  (a cluster command                 ▲            │                                  │
 *        │   authenticates with defaults)      └─authenticate┴──────────authenticate───────────┘
 *        └──────────── disconnect (from any) ──▶ disconnecting ──▶ disconnected
 *
 * While authenticated, cluster commands run one at a time from a queue; each creation ray-mcp
 * starts is an operation tracked by a spawned watcher until it ends. Failures are states: the
 * reason stays in `error`. Pure: the I/O is in src/actors/cloud.actor.ts and
 * src/watchers/cloud-operation.watcher.ts, passed in by name.
 */
import { type ActorRefFrom, assign, enqueueActions, fromEventObservable, fromPromise, setup } from 'xstate';
import type {
  CloudDetection,
  CloudIdentity,
  CloudOperation,
  CloudProvider,
  ClusterCreateSpec,
  CredentialProblem,
} from '../domain/cloud.js';
import {
  type CloudFact,
  type CloudResult,
  credentialProblemOf,
  type TrackedOperation,
} from '../domain/cloud.js';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';
import type { CloudKubeTarget } from '../domain/kube.js';
import { type ChildErrorEvent, errorOf } from './child-events.js';

export type { CloudFact, CloudResult, TrackedOperation };

export interface CloudAuthOptions {
  /** GKE */
  projectId?: string;
  serviceAccountPath?: string;
  /** EKS */
  profile?: string;
  region?: string;
}

export interface CloudWhere {
  project?: string;
  /** GKE zone/region or `-`; EKS region. Default: all GKE locations, the EKS session's region. */
  location?: string;
}

/** Commands that need the cloud: run one at a time while authenticated. */
export type CloudWorkCommand =
  | { type: 'cloud.list'; requestId: string; where: CloudWhere; offset: number; limit: number }
  | { type: 'cloud.describe'; requestId: string; where: CloudWhere; name: string }
  | { type: 'cloud.target'; requestId: string; where: CloudWhere; name: string }
  | { type: 'cloud.create'; requestId: string; spec: ClusterCreateSpec }
  | { type: 'cloud.writeKubeconfig'; requestId: string; target: CloudKubeTarget; path?: string };

/** Commands from tools. */
export type CloudCommand =
  | CloudWorkCommand
  | { type: 'cloud.authenticate'; requestId: string; options: CloudAuthOptions }
  | { type: 'cloud.disconnect'; requestId: string }
  /** Answered when the operation ends (or at once if it has). */
  | { type: 'cloud.awaitOperation'; requestId: string; operationId: string }
  /** Which credentials and kubeconfig contexts this machine has for the provider; needs no authentication. */
  | { type: 'cloud.detect'; requestId: string };

export interface CloudInput {
  provider: CloudProvider;
}

export interface CloudContext extends CloudInput {
  identity?: CloudIdentity;
  authOptions?: CloudAuthOptions;
  /** The authentication running was started by a cluster command, not by authenticate_cloud_provider. */
  implicitAuth?: boolean;
  authenticatedAt?: string;
  /** Why the credentials do not work (state failed), or what the last command failed with. */
  error?: ErrorInfo & { problem?: CredentialProblem };
  authWaiting: string[];
  disconnectWaiting: string[];
  queue: CloudWorkCommand[];
  operations: Record<string, TrackedOperation>;
  /** requestIds waiting for an operation to end. */
  awaiting: Record<string, string[]>;
  watcherSeq: number;
  detection?: CloudDetection;
  detectWaiting: string[];
}
export const cloudSystemId = (provider: CloudProvider) => `cloud:${provider}`;

const WORK = [
  'cloud.list',
  'cloud.describe',
  'cloud.target',
  'cloud.create',
  'cloud.writeKubeconfig',
] as const;
/** The same handling for every cluster command (they differ only in what the queue runs). */
const onWork = <A extends 'enqueue' | 'refuse' | 'refuseBusy'>(action: A) =>
  Object.fromEntries(WORK.map((type) => [type, { actions: action }])) as Record<
    (typeof WORK)[number],
    { actions: A }
  >;
const isWork = (e: { type: string }): e is CloudWorkCommand => (WORK as readonly string[]).includes(e.type);
const isEnded = (op: TrackedOperation) => op.view.status !== 'running';

type AuthInput = { provider: CloudProvider; options: CloudAuthOptions };
/** Who the credentials are, and when the cloud accepted them (ISO time). */
export type CloudAuthenticated = { identity: CloudIdentity; authenticatedAt: string };
/** Why the credentials do not work, for credentialsFailed. */
type CredentialsFailure = { error: ErrorInfo; problem?: CredentialProblem };
/** The failure of an invoked actor, as credentialsFailed takes it. */
const failureOf = ({ event }: { event: { error: unknown } }): CredentialsFailure => ({
  error: toErrorInfo(event.error),
  problem: credentialProblemOf(event.error),
});
type RunInput = {
  provider: CloudProvider;
  command: CloudWorkCommand;
  identity: CloudIdentity;
  operations: Record<string, TrackedOperation>;
};
type WatcherInput = { provider: CloudProvider; operation: TrackedOperation };

export const cloudConnectionMachine = setup({
  types: {
    context: {} as CloudContext,
    input: {} as CloudInput,
    events: {} as CloudCommand | CloudFact | ChildErrorEvent,
    emitted: {} as Answer,
  },
  actors: {
    authenticate: fromPromise<CloudAuthenticated, AuthInput>(async () => {
      throw new Error('provided by src/actors/cloud.actor.ts');
    }),
    runCloudCommand: fromPromise<CloudResult, RunInput>(async () => {
      throw new Error('provided by src/actors/cloud.actor.ts');
    }),
    forgetCredentials: fromPromise<void, { provider: CloudProvider }>(async () => {
      throw new Error('provided by src/actors/cloud.actor.ts');
    }),
    detect: fromPromise<CloudDetection, { provider: CloudProvider }>(async () => {
      throw new Error('provided by src/actors/cloud.actor.ts');
    }),
    operationWatcher: fromEventObservable<CloudFact, WatcherInput>(() => {
      throw new Error('provided by src/watchers/cloud-operation.watcher.ts');
    }),
  },
  guards: {
    hasQueue: ({ context }) => context.queue.length > 0,
    /** Nobody asked to authenticate: only cluster commands wait on this attempt. */
    implicitOnly: ({ context }) => context.implicitAuth === true && context.authWaiting.length === 0,
    credentialsRejected: (_, { error }: { error: unknown }) => credentialProblemOf(error) !== undefined,
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) => (isWork(event) ? [...context.queue, event] : context.queue),
    }),
    startAuth: assign(({ context, event }) => {
      if (event.type === 'cloud.authenticate')
        return { authOptions: event.options, authWaiting: [event.requestId], implicitAuth: false };
      // A cluster command before any authentication: the default credentials, in the command's own
      // project (GKE) or region (EKS), so a region given to the call is enough without AWS_REGION.
      const where =
        'where' in event
          ? event.where
          : event.type === 'cloud.create'
            ? { project: event.spec.project, location: event.spec.location }
            : undefined;
      const options: CloudAuthOptions =
        context.provider === 'eks'
          ? where?.location && where.location !== '-'
            ? { region: where.location }
            : {}
          : where?.project
            ? { projectId: where.project }
            : {};
      return { authOptions: options, authWaiting: [], implicitAuth: true };
    }),
    explicitAuth: assign({ implicitAuth: false }),
    joinAuth: assign({
      authWaiting: ({ context, event }) =>
        event.type === 'cloud.authenticate' ? [...context.authWaiting, event.requestId] : context.authWaiting,
    }),
    authenticated: enqueueActions(
      ({ context, enqueue }, { identity, authenticatedAt }: CloudAuthenticated) => {
        for (const id of context.authWaiting) enqueue.emit(answerOk(id));
        enqueue.assign({ identity, error: undefined, authWaiting: [], authenticatedAt });
      },
    ),
    /**
     * The default credentials, tried for a cluster command, did not work (or not with the call's
     * project or region, which may be a typo): that command and those queued behind it get the
     * error; the connection stays unconfigured, keeping neither the error nor those values.
     */
    implicitAuthFailed: enqueueActions(({ context, enqueue }, { error: info }: CredentialsFailure) => {
      for (const c of context.queue) enqueue.emit(answerError(c.requestId, info));
      enqueue.assign({ queue: [], authOptions: undefined, implicitAuth: undefined });
    }),
    /** Credentials do not work: keep why, answer everyone waiting with it. */
    credentialsFailed: enqueueActions(
      ({ context, enqueue }, { error: info, problem }: CredentialsFailure) => {
        for (const id of context.authWaiting) enqueue.emit(answerError(id, info));
        for (const c of context.queue) enqueue.emit(answerError(c.requestId, info));
        enqueue.assign({ error: { ...info, problem }, authWaiting: [], queue: [], identity: undefined });
      },
    ),
    refuse: enqueueActions(({ context, event, enqueue }) => {
      if (!('requestId' in event)) return;
      const error: ErrorInfo =
        context.error ??
        ({
          code: 'unavailable',
          message: `Not connected to ${context.provider.toUpperCase()} (disconnected).`,
          fix: `Call authenticate_cloud_provider(provider="${context.provider}") first.`,
        } satisfies ErrorInfo);
      enqueue.emit(
        answerError(event.requestId, { code: error.code, message: error.message, fix: error.fix }),
      );
    }),
    refuseBusy: enqueueActions(({ context, event, enqueue }) => {
      if (!('requestId' in event)) return;
      enqueue.emit(
        answerError(event.requestId, {
          code: 'conflict',
          message: `${context.provider.toUpperCase()} is disconnecting.`,
          fix: 'Retry in a moment.',
        }),
      );
    }),
    answerOk: enqueueActions(({ event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerOk(event.requestId));
    }),
    noteDisconnect: assign({
      disconnectWaiting: ({ context, event }) =>
        event.type === 'cloud.disconnect'
          ? [...context.disconnectWaiting, event.requestId]
          : context.disconnectWaiting,
    }),
    /** Forget identity, queue and operations; answer whoever waited. */
    forget: enqueueActions(({ context, enqueue }) => {
      const gone: ErrorInfo = {
        code: 'unavailable',
        message: `Disconnected from ${context.provider.toUpperCase()}.`,
        fix: `Call authenticate_cloud_provider(provider="${context.provider}") to connect again.`,
      };
      for (const id of context.authWaiting) enqueue.emit(answerError(id, gone));
      for (const c of context.queue) enqueue.emit(answerError(c.requestId, gone));
      for (const ids of Object.values(context.awaiting))
        for (const id of ids) enqueue.emit(answerError(id, gone));
      for (const op of Object.values(context.operations)) if (op.watcherId) enqueue.stopChild(op.watcherId);
      enqueue.assign({
        identity: undefined,
        authOptions: undefined,
        authenticatedAt: undefined,
        error: undefined,
        authWaiting: [],
        queue: [],
        operations: {},
        awaiting: {},
      });
    }),
    answerDisconnected: enqueueActions(({ context, enqueue }) => {
      for (const id of context.disconnectWaiting) enqueue.emit(answerOk(id));
      enqueue.assign({ disconnectWaiting: [] });
    }),
    finishOk: enqueueActions(({ context, enqueue }, result: CloudResult) => {
      const [command, ...rest] = context.queue;
      if (!command) return;
      const operations = { ...context.operations };
      let watcherSeq = context.watcherSeq;
      if (result.kind === 'create' && result.operation) {
        const op = result.operation;
        const current = operations[op.view.operation_id];
        if (!current || isEnded(current)) {
          const watcherId = `watch:${op.view.operation_id}:${++watcherSeq}`;
          operations[op.view.operation_id] = { ...op, watcherId };
          enqueue.spawnChild('operationWatcher', {
            id: watcherId,
            input: { provider: context.provider, operation: op },
          });
        }
      }
      enqueue.assign({
        queue: rest,
        operations,
        watcherSeq,
      });
      // The answer carries the result: the command's type names its kind (CommandAnswers).
      enqueue.emit(answerOk(command.requestId, result));
    }),
    finishError: enqueueActions(({ context, enqueue }, { error }: { error: unknown }) => {
      const [command, ...rest] = context.queue;
      if (!command) return;
      enqueue.assign({ queue: rest });
      enqueue.emit(answerError(command.requestId, toErrorInfo(error)));
    }),
    watcherFailed: enqueueActions(
      ({ context, enqueue, self }, { id, error }: { id: string; error: unknown }) => {
        const entry = Object.entries(context.operations).find(([, op]) => op.watcherId === id);
        if ((self.getSnapshot().children as Record<string, unknown>)[id]) enqueue.stopChild(id);
        if (!entry) return;
        const [opId, op] = entry;
        const message = toErrorInfo(error).message;
        enqueue.assign({
          operations: {
            ...context.operations,
            [opId]: {
              ...op,
              watcherId: undefined,
              view: { ...op.view, error: `watcher failed (${message}); following it again` },
            },
          },
        });
        enqueue.raise({ type: 'cloud.resumeOperations' }, { delay: 2000 });
      },
    ),
    /** Follow again the operations that were running when tracking stopped (re-authentication). */
    resumeOperations: enqueueActions(({ context, enqueue }) => {
      const operations = { ...context.operations };
      let watcherSeq = context.watcherSeq;
      for (const [id, op] of Object.entries(operations)) {
        if (isEnded(op) || op.watcherId) continue;
        const watcherId = `watch:${id}:${++watcherSeq}`;
        operations[id] = { ...op, watcherId };
        enqueue.spawnChild('operationWatcher', {
          id: watcherId,
          input: { provider: context.provider, operation: op },
        });
      }
      enqueue.assign({ operations, watcherSeq });
    }),
    pauseOperations: enqueueActions(({ context, enqueue }) => {
      const operations = { ...context.operations };
      for (const [id, op] of Object.entries(operations)) {
        if (!op.watcherId) continue;
        enqueue.stopChild(op.watcherId);
        operations[id] = {
          ...op,
          watcherId: undefined,
          view: isEnded(op)
            ? op.view
            : {
                ...op.view,
                detail: `${op.view.detail ?? ''} (tracking paused until re-authentication)`.trim(),
              },
        };
      }
      enqueue.assign({ operations });
    }),
    operationProgress: assign({
      operations: ({ context, event }) => {
        if (event.type !== 'cloud.operationProgress' && event.type !== 'cloud.operationPollFailed')
          return context.operations;
        const op = context.operations[event.operationId];
        if (!op || isEnded(op)) return context.operations;
        const detail = event.type === 'cloud.operationProgress' ? event.detail : `${op.view.detail ?? ''}`;
        const view: CloudOperation = {
          ...op.view,
          detail,
          polls: event.polls,
          error: event.type === 'cloud.operationPollFailed' ? `last check failed: ${event.error}` : undefined,
        };
        return { ...context.operations, [event.operationId]: { ...op, view } };
      },
    }),
    operationEnded: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'cloud.operationEnded') return;
      const op = context.operations[event.operationId];
      if (!op) return;
      const view: CloudOperation = {
        ...op.view,
        status: event.ok ? 'done' : 'failed',
        detail: event.detail ?? op.view.detail,
        error: event.ok ? undefined : event.error,
        ended_at: event.endedAt,
        polls: event.polls,
      };
      for (const id of context.awaiting[event.operationId] ?? []) enqueue.emit(answerOk(id));
      const { [event.operationId]: _, ...awaiting } = context.awaiting;
      enqueue.assign({
        operations: { ...context.operations, [event.operationId]: { ...op, view, watcherId: undefined } },
        awaiting,
      });
    }),
    queueDetect: assign({
      detectWaiting: ({ context, event }) =>
        event.type === 'cloud.detect' ? [...context.detectWaiting, event.requestId] : context.detectWaiting,
    }),
    detected: enqueueActions(({ context, enqueue }, detection: CloudDetection) => {
      for (const id of context.detectWaiting) enqueue.emit(answerOk(id));
      enqueue.assign({ detectWaiting: [], detection });
    }),
    detectFailed: enqueueActions(({ context, enqueue }, { error }: { error: unknown }) => {
      for (const id of context.detectWaiting) enqueue.emit(answerError(id, toErrorInfo(error)));
      enqueue.assign({ detectWaiting: [] });
    }),
    awaitOperation: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'cloud.awaitOperation') return;
      const op = context.operations[event.operationId];
      if (!op) {
        enqueue.emit(
          answerError(event.requestId, {
            code: 'not_found',
            message: `No operation ${event.operationId} on ${context.provider.toUpperCase()} in this ray-mcp session.`,
            fix: 'Operations are kept until disconnect or restart; get_kubernetes_cluster_info shows the cluster status.',
          }),
        );
      } else if (isEnded(op)) {
        enqueue.emit(answerOk(event.requestId));
      } else {
        enqueue.assign({
          awaiting: {
            ...context.awaiting,
            [event.operationId]: [...(context.awaiting[event.operationId] ?? []), event.requestId],
          },
        });
      }
    }),
  },
}).createMachine({
  id: 'cloud',
  context: ({ input }) => ({
    ...input,
    authWaiting: [],
    disconnectWaiting: [],
    queue: [],
    operations: {},
    awaiting: {},
    watcherSeq: 0,
    detectWaiting: [],
  }),
  on: {
    'cloud.awaitOperation': { actions: 'awaitOperation' },
    'cloud.operationProgress': { actions: 'operationProgress' },
    'cloud.operationPollFailed': { actions: 'operationProgress' },
    'cloud.operationEnded': { actions: 'operationEnded' },
    // A watcher that fails is replaced after a pause; its operation is followed again.
    'xstate.error.actor.*': {
      actions: { type: 'watcherFailed', params: ({ event }) => ({ id: event.actorId, error: event.error }) },
    },
    'cloud.resumeOperations': { actions: 'resumeOperations' },
  },
  type: 'parallel',
  states: {
    detection: {
      initial: 'idle',
      states: {
        idle: { on: { 'cloud.detect': { target: 'detecting', actions: 'queueDetect' } } },
        detecting: {
          invoke: {
            src: 'detect',
            input: ({ context }) => ({ provider: context.provider }),
            onDone: { target: 'idle', actions: { type: 'detected', params: ({ event }) => event.output } },
            onError: { target: 'idle', actions: { type: 'detectFailed', params: errorOf } },
          },
          on: { 'cloud.detect': { actions: 'queueDetect' } },
        },
      },
    },
    connection: {
      initial: 'unconfigured',
      states: {
        unconfigured: {
          on: {
            'cloud.authenticate': { target: 'authenticating', actions: 'startAuth' },
            // A cluster command before any authentication uses the default credentials.
            'cloud.list': { target: 'authenticating', actions: ['startAuth', 'enqueue'] },
            'cloud.describe': { target: 'authenticating', actions: ['startAuth', 'enqueue'] },
            'cloud.target': { target: 'authenticating', actions: ['startAuth', 'enqueue'] },
            'cloud.create': { target: 'authenticating', actions: ['startAuth', 'enqueue'] },
            'cloud.writeKubeconfig': { target: 'authenticating', actions: ['startAuth', 'enqueue'] },
            'cloud.disconnect': { actions: 'answerOk' },
          },
        },
        authenticating: {
          invoke: {
            src: 'authenticate',
            input: ({ context }) => ({ provider: context.provider, options: context.authOptions ?? {} }),
            onDone: {
              target: 'authenticated',
              actions: { type: 'authenticated', params: ({ event }) => event.output },
            },
            onError: [
              {
                guard: 'implicitOnly',
                target: 'unconfigured',
                actions: { type: 'implicitAuthFailed', params: failureOf },
              },
              { target: 'failed', actions: { type: 'credentialsFailed', params: failureOf } },
            ],
          },
          on: {
            'cloud.authenticate': { actions: ['joinAuth', 'explicitAuth'] },
            ...onWork('enqueue'),
            'cloud.disconnect': { target: 'disconnecting', actions: 'noteDisconnect' },
          },
        },
        authenticated: {
          entry: 'resumeOperations',
          exit: 'pauseOperations',
          on: {
            'cloud.authenticate': { target: 'authenticating', actions: 'startAuth' },
            ...onWork('enqueue'),
            'cloud.disconnect': { target: 'disconnecting', actions: 'noteDisconnect' },
            'cloud.credentialsRejected': {
              target: 'failed',
              actions: {
                type: 'credentialsFailed',
                params: ({ event }) => ({ error: event.error, problem: 'rejected' as const }),
              },
            },
          },
          initial: 'idle',
          states: {
            idle: { always: { guard: 'hasQueue', target: 'working' } },
            working: {
              invoke: {
                src: 'runCloudCommand',
                input: ({ context }) => ({
                  provider: context.provider,
                  command: context.queue[0]!,
                  identity: context.identity!,
                  operations: context.operations,
                }),
                onDone: {
                  target: 'idle',
                  actions: { type: 'finishOk', params: ({ event }) => event.output },
                },
                onError: [
                  {
                    guard: { type: 'credentialsRejected', params: errorOf },
                    target: '#cloud.connection.failed',
                    actions: { type: 'credentialsFailed', params: failureOf },
                  },
                  { target: 'idle', actions: { type: 'finishError', params: errorOf } },
                ],
              },
            },
          },
        },
        failed: {
          on: {
            'cloud.authenticate': { target: 'authenticating', actions: 'startAuth' },
            ...onWork('refuse'),
            'cloud.disconnect': { target: 'disconnecting', actions: 'noteDisconnect' },
          },
        },
        disconnecting: {
          entry: 'forget',
          invoke: {
            src: 'forgetCredentials',
            input: ({ context }) => ({ provider: context.provider }),
            onDone: { target: 'disconnected', actions: 'answerDisconnected' },
            onError: { target: 'disconnected', actions: 'answerDisconnected' },
          },
          on: {
            'cloud.disconnect': { actions: 'noteDisconnect' },
            'cloud.authenticate': { actions: 'refuseBusy' },
            ...onWork('refuseBusy'),
          },
        },
        disconnected: {
          on: {
            'cloud.authenticate': { target: 'authenticating', actions: 'startAuth' },
            ...onWork('refuse'),
            'cloud.disconnect': { actions: 'answerOk' },
          },
        },
      },
    },
  },
});

export type CloudActor = ActorRefFrom<typeof cloudConnectionMachine>;
export type CloudState =
  | 'unconfigured'
  | 'authenticating'
  | 'authenticated'
  | 'failed'
  | 'disconnecting'
  | 'disconnected';

/** The connection state of a cloud actor's snapshot. */
export function cloudStateOf(snapshot: { value: unknown }): CloudState {
  const v = (snapshot.value as { connection: unknown }).connection;
  return (typeof v === 'string' ? v : Object.keys(v as object)[0]) as CloudState;
}
