/**
 * What this machine can run: Node, Python, Ray, Kubernetes, cloud credentials.
 * Concurrent checks share one probe: every request that arrives while a probe runs is answered
 * by its result. The last report stays in the context for resources and the inspector.
 */
import { type ActorRefFrom, assign, enqueueActions, fromPromise, setup } from 'xstate';
import { type Answer, answerError, answerOk } from '../domain/commands.js';
import type { EnvironmentReport } from '../domain/environment.js';
import { type ErrorInfo, toErrorInfo } from '../domain/errors.js';

/** Commands from tools. */
export type EnvironmentCommand = { type: 'env.check'; requestId: string };

export interface EnvironmentContext {
  report?: EnvironmentReport;
  error?: ErrorInfo;
  /** requestIds waiting for the probe under way. */
  waiting: string[];
}

export const environmentMachine = setup({
  types: {
    context: {} as EnvironmentContext,
    events: {} as EnvironmentCommand,
    emitted: {} as Answer,
  },
  actors: {
    probeEnvironment: fromPromise<EnvironmentReport>(async () => {
      throw new Error('probeEnvironment is provided by src/actors/environment.actor.ts');
    }),
  },
  actions: {
    enqueue: assign({
      waiting: ({ context, event }) => [...context.waiting, event.requestId],
    }),
    answerWaiting: enqueueActions(({ context, enqueue }) => {
      for (const requestId of context.waiting) {
        enqueue.emit(context.error ? answerError(requestId, context.error) : answerOk(requestId));
      }
      enqueue.assign({ waiting: [] });
    }),
  },
}).createMachine({
  id: 'environment',
  context: { waiting: [] },
  initial: 'idle',
  states: {
    idle: {
      on: { 'env.check': { target: 'checking', actions: 'enqueue' } },
    },
    checking: {
      invoke: {
        src: 'probeEnvironment',
        onDone: {
          target: 'idle',
          actions: [assign({ report: ({ event }) => event.output, error: undefined }), 'answerWaiting'],
        },
        onError: {
          target: 'idle',
          actions: [assign({ error: ({ event }) => toErrorInfo(event.error) }), 'answerWaiting'],
        },
      },
      on: { 'env.check': { actions: 'enqueue' } },
    },
  },
});

export type EnvironmentActor = ActorRefFrom<typeof environmentMachine>;
