/**
 * One Ray job, as the cluster's job watcher sees it:
 *
 *   pending ──▶ running ──▶ succeeded | failed | stopped
 *
 * It is fed `ray.jobUpdated` facts (never polls itself) and answers `job.awaitEnd` once the
 * job is over; wait_for_ray_job and resource subscriptions read its snapshot.
 */
import { type ActorRefFrom, assign, enqueueActions, setup } from 'xstate';
import { type Answer, answerOk } from '../domain/commands.js';
import type { JobView } from '../domain/jobs.js';

export type JobEvent =
  | {
      type: 'ray.jobUpdated';
      view: JobView;
      /** When the dashboard reported this view (ms). */
      at: number;
    }
  | { type: 'job.awaitEnd'; requestId: string };

export interface JobInput {
  view: JobView;
  /** When the dashboard reported the first view (ms). */
  at: number;
}

export interface JobContext {
  clusterId: string;
  submissionId: string;
  view: JobView;
  /** Milliseconds since epoch of the last status change. */
  changedAt: number;
  waiting: string[];
}

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    input: {} as JobInput,
    events: {} as JobEvent,
    emitted: {} as Answer,
  },
  guards: {
    is: ({ event }, status: JobView['status']) =>
      event.type === 'ray.jobUpdated' && event.view.status === status,
  },
  actions: {
    update: assign(({ context, event }) =>
      event.type === 'ray.jobUpdated'
        ? {
            view: event.view,
            changedAt: event.view.status !== context.view.status ? event.at : context.changedAt,
          }
        : {},
    ),
    wait: assign({
      waiting: ({ context, event }) =>
        event.type === 'job.awaitEnd' ? [...context.waiting, event.requestId] : context.waiting,
    }),
    answerNow: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'job.awaitEnd') enqueue.emit(answerOk(event.requestId));
    }),
    answerWaiting: enqueueActions(({ context, enqueue }) => {
      for (const id of context.waiting) enqueue.emit(answerOk(id));
      enqueue.assign({ waiting: [] });
    }),
  },
}).createMachine({
  id: 'job',
  context: ({ input }) => ({
    clusterId: input.view.cluster_id,
    submissionId: input.view.submission_id,
    view: input.view,
    changedAt: input.at,
    waiting: [],
  }),
  initial: 'init',
  on: {
    'ray.jobUpdated': [
      { guard: { type: 'is', params: 'SUCCEEDED' }, target: '.succeeded', actions: 'update' },
      { guard: { type: 'is', params: 'FAILED' }, target: '.failed', actions: 'update' },
      { guard: { type: 'is', params: 'STOPPED' }, target: '.stopped', actions: 'update' },
      { guard: { type: 'is', params: 'RUNNING' }, target: '.running', actions: 'update' },
      { actions: 'update' },
    ],
  },
  states: {
    init: {
      always: [
        { guard: ({ context }) => context.view.status === 'SUCCEEDED', target: 'succeeded' },
        { guard: ({ context }) => context.view.status === 'FAILED', target: 'failed' },
        { guard: ({ context }) => context.view.status === 'STOPPED', target: 'stopped' },
        { guard: ({ context }) => context.view.status === 'RUNNING', target: 'running' },
        { target: 'pending' },
      ],
    },
    pending: { on: { 'job.awaitEnd': { actions: 'wait' } } },
    running: { on: { 'job.awaitEnd': { actions: 'wait' } } },
    // A terminal state is final for Ray; the actor stays so its result can be read.
    succeeded: {
      tags: 'ended',
      entry: 'answerWaiting',
      on: { 'job.awaitEnd': { actions: 'answerNow' }, 'ray.jobUpdated': { actions: 'update' } },
    },
    failed: {
      tags: 'ended',
      entry: 'answerWaiting',
      on: { 'job.awaitEnd': { actions: 'answerNow' }, 'ray.jobUpdated': { actions: 'update' } },
    },
    stopped: {
      tags: 'ended',
      entry: 'answerWaiting',
      on: { 'job.awaitEnd': { actions: 'answerNow' }, 'ray.jobUpdated': { actions: 'update' } },
    },
  },
});

export type JobActor = ActorRefFrom<typeof jobMachine>;
