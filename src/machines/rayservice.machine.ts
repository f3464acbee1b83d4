/**
 * One KubeRay RayService (by namespace and name), followed through its connection's informer
 * (k8s.rayService): ray-mcp applies it (server-side apply, after a dry run that says what would
 * change), or deletes it. The actor lives while the connection does and its object exists (or a
 * call is applying it): the connection drops it when a dry run, a failed apply or a delete leaves
 * no object under the name (kube.releaseRayService).
 *
 *   idle ─apply─▶ applying ─▶ idle          idle ─delete─▶ deleting ─▶ idle
 *
 * One change at a time: an apply or delete while one runs is refused (try again).
 * `rayservice.awaitGone` is answered once the object is gone (at once when it is not there).
 */
import { type ActorRefFrom, assign, enqueueActions, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { toErrorInfo } from '../domain/errors.js';
import type { RayServiceApplyResult, RayServiceSummary } from '../domain/rayservice.js';

export type { RayServiceApplyResult };

export type RayServiceCommand =
  | { type: 'rayservice.apply'; requestId: string; manifest: Record<string, unknown>; dryRun: boolean }
  /** `uid`: the object the caller's checks (ownership, protection) were made on; another is not deleted. */
  | { type: 'rayservice.delete'; requestId: string; uid?: string }
  | { type: 'rayservice.awaitGone'; requestId: string };

export type RayServiceFact =
  | { type: 'k8s.rayService'; summary: RayServiceSummary }
  | { type: 'k8s.rayServiceGone' };

/** To the connection: the API server's answer to our apply. */
export type RayServiceAppliedEvent = { type: 'rayservice.applied'; summary: RayServiceSummary };

export interface RayServiceInput {
  connectionId: string;
  namespace: string;
  name: string;
  summary?: RayServiceSummary;
}

export interface RayServiceContext extends RayServiceInput {
  /** The command being carried out. */
  current?: RayServiceCommand;
  goneWaiting: string[];
  /** Bumped on every change of the object (for resource signatures). */
  version: number;
}

export const rayServiceSystemId = (connectionId: string, namespace: string, name: string) =>
  `rayservice:${connectionId}:${namespace}/${name}`;

const busy = (c: RayServiceContext) => ({
  code: 'conflict' as const,
  message: `ray-mcp is already ${c.current?.type === 'rayservice.delete' ? 'deleting' : 'applying'} RayService ${c.namespace}/${c.name}.`,
  fix: 'Wait a moment, then try again.',
});

export const rayServiceMachine = setup({
  types: {
    context: {} as RayServiceContext,
    input: {} as RayServiceInput,
    events: {} as RayServiceCommand | RayServiceFact,
    emitted: {} as Answer,
  },
  actors: {
    applyRayService: fromPromise<
      RayServiceApplyResult,
      { connectionId: string; manifest: Record<string, unknown>; dryRun: boolean }
    >(async () => {
      throw new Error('provided by src/actors/rayservice.actor.ts');
    }),
    deleteRayService: fromPromise<
      void,
      { connectionId: string; namespace: string; name: string; uid?: string }
    >(async () => {
      throw new Error('provided by src/actors/rayservice.actor.ts');
    }),
  },
  actions: {
    take: assign({ current: ({ event }) => event as RayServiceCommand }),
    refuseBusy: enqueueActions(({ context, event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerError(event.requestId, busy(context)));
    }),
    awaitGone: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'rayservice.awaitGone') return;
      if (!context.summary) enqueue.emit(answerOk(event.requestId));
      else enqueue.assign({ goneWaiting: [...context.goneWaiting, event.requestId] });
    }),
    assignSummary: assign({
      summary: ({ context, event }) => (event.type === 'k8s.rayService' ? event.summary : context.summary),
      version: ({ context }) => context.version + 1,
    }),
    gone: enqueueActions(({ context, enqueue }) => {
      for (const id of context.goneWaiting) enqueue.emit(answerOk(id));
      enqueue.assign({ summary: undefined, goneWaiting: [], version: context.version + 1 });
    }),
  },
}).createMachine({
  id: 'rayService',
  context: ({ input }) => ({ ...input, goneWaiting: [], version: 0 }),
  initial: 'idle',
  on: {
    'k8s.rayService': { actions: 'assignSummary' },
    'k8s.rayServiceGone': { actions: 'gone' },
    'rayservice.awaitGone': { actions: 'awaitGone' },
  },
  states: {
    idle: {
      on: {
        'rayservice.apply': { target: 'applying', actions: 'take' },
        'rayservice.delete': { target: 'deleting', actions: 'take' },
      },
    },
    applying: {
      on: { 'rayservice.apply': { actions: 'refuseBusy' }, 'rayservice.delete': { actions: 'refuseBusy' } },
      invoke: {
        src: 'applyRayService',
        input: ({ context }) => {
          const c = context.current as Extract<RayServiceCommand, { type: 'rayservice.apply' }>;
          return { connectionId: context.connectionId, manifest: c.manifest, dryRun: c.dryRun };
        },
        onDone: {
          target: 'idle',
          actions: enqueueActions(({ context, event, enqueue, self }) => {
            const c = context.current as Extract<RayServiceCommand, { type: 'rayservice.apply' }>;
            const s = event.output.summary;
            if (!c.dryRun && event.output.changed && s) {
              // Ours from now on, before the watch event arrives (which then wins).
              if (!context.summary || context.summary.generation < s.generation)
                enqueue.assign({ summary: s, version: context.version + 1 });
              if (self._parent) enqueue.sendParent({ type: 'rayservice.applied', summary: s });
            }
            enqueue.emit(answerOk(c.requestId, event.output));
            enqueue.assign({ current: undefined });
          }),
        },
        onError: {
          target: 'idle',
          actions: enqueueActions(({ context, event, enqueue }) => {
            enqueue.emit(answerError(context.current!.requestId, toErrorInfo(event.error)));
            enqueue.assign({ current: undefined });
          }),
        },
      },
    },
    deleting: {
      on: { 'rayservice.apply': { actions: 'refuseBusy' }, 'rayservice.delete': { actions: 'refuseBusy' } },
      invoke: {
        src: 'deleteRayService',
        input: ({ context }) => ({
          connectionId: context.connectionId,
          namespace: context.namespace,
          name: context.name,
          uid: (context.current as Extract<RayServiceCommand, { type: 'rayservice.delete' }>).uid,
        }),
        onDone: {
          target: 'idle',
          actions: enqueueActions(({ context, enqueue }) => {
            enqueue.emit(answerOk(context.current!.requestId));
            enqueue.assign({ current: undefined });
          }),
        },
        onError: {
          target: 'idle',
          actions: enqueueActions(({ context, event, enqueue }) => {
            enqueue.emit(answerError(context.current!.requestId, toErrorInfo(event.error)));
            enqueue.assign({ current: undefined });
          }),
        },
      },
    },
  },
});

export type RayServiceActor = ActorRefFrom<typeof rayServiceMachine>;
export type RayServiceSnapshot = SnapshotFrom<typeof rayServiceMachine>;
