/**
 * One RayJob custom resource: ray-mcp submits it (server-side apply) or attaches to one the user
 * names, then follows it through its connection's informer (k8s.rayJob). Cancelling suspends it
 * (KubeRay deletes its cluster), stops the Ray job through the dashboard, or deletes the
 * resource, as the tool asked.
 *
 *   submitting ─▶ watching ⇄ cancelling ─▶ gone (deleted)      submitting ─▶ failed
 *
 * `rayjob.awaitEnd` is answered when KubeRay reports an end state (or the resource goes).
 */
import { type ActorRefFrom, assign, enqueueActions, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';
import type { RayJobSummary } from '../domain/kuberay.js';

export type RayJobCancelMode = 'suspend' | 'stop' | 'delete';

export type RayJobCommand =
  | { type: 'rayjob.awaitSubmitted'; requestId: string }
  /** Answered once the RayJob ends (Complete, Failed, ValidationFailed, Suspended) or is deleted. */
  | { type: 'rayjob.awaitEnd'; requestId: string }
  | { type: 'rayjob.cancel'; requestId: string; mode: RayJobCancelMode };

/** jobDeploymentStatus values after which KubeRay does nothing more with a RayJob. */
export const RAYJOB_END_STATES = ['Complete', 'Failed', 'ValidationFailed', 'Suspended'] as const;
export const rayJobEnded = (s?: RayJobSummary) =>
  s?.deploymentStatus !== undefined && (RAYJOB_END_STATES as readonly string[]).includes(s.deploymentStatus);

export type RayJobFact = { type: 'k8s.rayJob'; summary: RayJobSummary } | { type: 'k8s.rayJobGone' };

/** To the connection: the API server's answer to our apply. */
export type RayJobApplied = { type: 'rayjob.applied'; summary: RayJobSummary };

export interface RayJobInput {
  connectionId: string;
  namespace: string;
  name: string;
  /** Given: apply it. Absent: attach to an existing RayJob. */
  manifest?: Record<string, unknown>;
  owned: boolean;
  summary?: RayJobSummary;
  /** API server URL, for the dashboard of the RayJob's cluster. */
  server?: string;
}

export interface RayJobContext extends RayJobInput {
  error?: ErrorInfo;
  note?: string;
  waiting: string[];
  /** requestIds of rayjob.awaitEnd. */
  endWaiting: string[];
  cancel?: RayJobCancelMode;
}

export const rayJobSystemId = (connectionId: string, namespace: string, name: string) =>
  `rayjob:${connectionId}:${namespace}/${name}`;

export const rayJobMachine = setup({
  types: {
    context: {} as RayJobContext,
    input: {} as RayJobInput,
    events: {} as RayJobCommand | RayJobFact,
    emitted: {} as Answer,
  },
  actors: {
    applyRayJob: fromPromise<RayJobSummary, { connectionId: string; manifest: Record<string, unknown> }>(
      async () => {
        throw new Error('provided by src/actors/rayjob.actor.ts');
      },
    ),
    cancelRayJob: fromPromise<
      void,
      { connectionId: string; server?: string; summary: RayJobSummary; mode: RayJobCancelMode }
    >(async () => {
      throw new Error('provided by src/actors/rayjob.actor.ts');
    }),
  },
  guards: {
    hasManifest: ({ context }) => context.manifest !== undefined,
    ended: ({ context }) => rayJobEnded(context.summary),
  },
  actions: {
    assignSummary: assign({
      summary: ({ context, event }) => (event.type === 'k8s.rayJob' ? event.summary : context.summary),
    }),
    wait: assign({
      waiting: ({ context, event }) =>
        'requestId' in event ? [...context.waiting, event.requestId] : context.waiting,
    }),
    answerNow: enqueueActions(({ event, enqueue }) => {
      if ('requestId' in event) enqueue.emit(answerOk(event.requestId));
    }),
    waitEnd: assign({
      endWaiting: ({ context, event }) =>
        event.type === 'rayjob.awaitEnd' ? [...context.endWaiting, event.requestId] : context.endWaiting,
    }),
    answerEndWaiting: enqueueActions(({ context, enqueue }) => {
      for (const id of context.endWaiting) enqueue.emit(answerOk(id));
      enqueue.assign({ endWaiting: [] });
    }),
    answerWaiting: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting)
        enqueue.emit(context.error ? answerError(id, context.error) : answerOk(id));
      enqueue.assign({ waiting: [] });
    }),
  },
}).createMachine({
  id: 'rayJob',
  context: ({ input }) => ({ ...input, waiting: [], endWaiting: [] }),
  initial: 'init',
  on: {
    'k8s.rayJob': [
      { actions: 'assignSummary', guard: ({ event }) => !rayJobEnded(event.summary) },
      { actions: ['assignSummary', 'answerEndWaiting'] },
    ],
    'rayjob.awaitEnd': [{ guard: 'ended', actions: 'answerNow' }, { actions: 'waitEnd' }],
  },
  states: {
    init: { always: [{ guard: 'hasManifest', target: 'submitting' }, { target: 'watching' }] },
    submitting: {
      on: { 'rayjob.awaitSubmitted': { actions: 'wait' }, 'rayjob.cancel': { actions: 'wait' } },
      invoke: {
        src: 'applyRayJob',
        input: ({ context }) => ({ connectionId: context.connectionId, manifest: context.manifest! }),
        onDone: {
          target: 'watching',
          actions: [
            assign({ summary: ({ context, event }) => context.summary ?? event.output }),
            // The connection's cache holds it from now on, not only once its watch event arrives.
            enqueueActions(({ event, enqueue, self }) => {
              if (self._parent) enqueue.sendParent({ type: 'rayjob.applied', summary: event.output });
            }),
            'answerWaiting',
          ],
        },
        onError: {
          target: 'failed',
          actions: [assign({ error: ({ event }) => toErrorInfo(event.error) }), 'answerWaiting'],
        },
      },
    },
    watching: {
      on: {
        'rayjob.awaitSubmitted': { actions: 'answerNow' },
        'rayjob.cancel': {
          target: 'cancelling',
          actions: ['wait', assign({ cancel: ({ event }) => event.mode, error: undefined })],
        },
        'k8s.rayJobGone': {
          target: 'gone',
          actions: assign({
            note: ({ context }) => `RayJob ${context.namespace}/${context.name} was deleted.`,
          }),
        },
      },
    },
    cancelling: {
      on: {
        'rayjob.cancel': { actions: 'wait' },
        // The watch can report the deletion before the DELETE request answers: gone is gone.
        'k8s.rayJobGone': {
          target: 'gone',
          actions: assign({
            note: ({ context }) => `RayJob ${context.namespace}/${context.name} was deleted.`,
          }),
        },
      },
      invoke: {
        src: 'cancelRayJob',
        input: ({ context }) => ({
          connectionId: context.connectionId,
          server: context.server,
          summary: context.summary!,
          mode: context.cancel!,
        }),
        onDone: { target: 'watching', actions: 'answerWaiting' },
        onError: {
          target: 'watching',
          actions: [
            assign({ error: ({ event }) => toErrorInfo(event.error) }),
            'answerWaiting',
            assign({ error: undefined }),
          ],
        },
      },
    },
    gone: {
      entry: ['answerWaiting', 'answerEndWaiting'],
      on: {
        'rayjob.awaitSubmitted': { actions: 'answerNow' },
        'rayjob.awaitEnd': { actions: 'answerNow' },
        'rayjob.cancel': { actions: 'answerNow' },
      },
    },
    failed: {
      entry: enqueueActions(({ context, enqueue }) => {
        for (const id of context.endWaiting) enqueue.emit(answerError(id, context.error!));
        enqueue.assign({ endWaiting: [] });
      }),
      on: {
        'rayjob.awaitSubmitted': {
          actions: enqueueActions(({ context, event, enqueue }) =>
            enqueue.emit(answerError(event.requestId, context.error!)),
          ),
        },
        'rayjob.awaitEnd': {
          actions: enqueueActions(({ context, event, enqueue }) =>
            enqueue.emit(answerError(event.requestId, context.error!)),
          ),
        },
        'rayjob.cancel': {
          actions: enqueueActions(({ context, event, enqueue }) =>
            enqueue.emit(answerError(event.requestId, context.error!)),
          ),
        },
      },
    },
  },
});

export type RayJobActor = ActorRefFrom<typeof rayJobMachine>;
export type RayJobSnapshot = SnapshotFrom<typeof rayJobMachine>;
