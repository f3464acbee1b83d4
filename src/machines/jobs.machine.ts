/**
 * The jobs of one cluster. Commands that talk to the dashboard run one at a time from a queue
 * (`work`); a single watcher polls the cluster's job list for all watched jobs at once
 * (`watch`: fast while one runs, slow while all wait, off when none is watched) and the machine
 * forwards each change to that job's actor.
 */
import { type ActorRefFrom, assign, enqueueActions, fromEventObservable, fromPromise, setup } from 'xstate';
import { type Answer, answerError, answerOk, type CommandAnswers } from '../domain/commands.js';
import type { DashboardTarget } from '../domain/dashboard.js';
import { toErrorInfo } from '../domain/errors.js';
import { isTerminal, type JobsFact, type JobView } from '../domain/jobs.js';
import type { ServeAppConfig, ServeNetwork } from '../domain/serve.js';
import { type ChildErrorEvent, errorOf } from './child-events.js';

export type { JobsFact };

import { jobMachine } from './job.machine.js';

export interface SubmitRequest {
  entrypoint: string;
  submission_id?: string;
  runtime_env?: {
    working_dir?: string;
    pip?: string[];
    env_vars?: Record<string, string>;
    excludes?: string[];
  };
  metadata?: Record<string, string>;
  entrypoint_num_cpus?: number;
  entrypoint_num_gpus?: number;
  entrypoint_memory?: number;
  entrypoint_resources?: Record<string, number>;
}

export type JobsCommand =
  | { type: 'jobs.submit'; requestId: string; dashboard: DashboardTarget; submit: SubmitRequest }
  | { type: 'jobs.refresh'; requestId: string; dashboard: DashboardTarget }
  | { type: 'jobs.get'; requestId: string; dashboard: DashboardTarget; id: string }
  | { type: 'jobs.stop'; requestId: string; dashboard: DashboardTarget; id: string }
  | {
      type: 'jobs.logs';
      requestId: string;
      dashboard: DashboardTarget;
      id: string;
      lines: number;
      maxBytes: number;
      cursor?: string;
      /** The driver log on this machine, for clusters ray-mcp started. */
      logPath?: string;
    }
  /** Keep this job's actor up to date (wait_for_ray_job, resource subscriptions). */
  | { type: 'jobs.watch'; requestId: string; dashboard: DashboardTarget; id: string }
  /** The state API's failed tasks and dead actors of a Ray job (its hex job id), for a failure analysis. */
  | { type: 'jobs.failures'; requestId: string; dashboard: DashboardTarget; jobId: string }
  | ServeCommand;

/**
 * Serve applications of the cluster: commands on the same queue as its jobs, since a deploy is a
 * read-modify-write of the whole declarative config and uploads a working_dir as a job does.
 */
export type ServeCommand =
  | {
      type: 'serve.apply';
      requestId: string;
      dashboard: DashboardTarget;
      app: ServeAppConfig;
      net: ServeNetwork;
    }
  | { type: 'serve.remove'; requestId: string; dashboard: DashboardTarget; name: string; net: ServeNetwork }
  | { type: 'serve.status'; requestId: string; dashboard: DashboardTarget };

export interface JobsContext {
  clusterId: string;
  /** The cluster's dashboard, as the last command named it. */
  dashboard?: DashboardTarget;
  /** Every job the cluster reported, by submission id. */
  jobs: Record<string, JobView>;
  /** Jobs with an actor kept up to date. */
  watched: string[];
  queue: JobsCommand[];
  lastPollError?: string;
}

export interface JobCommandOutput {
  jobs?: JobView[];
  /** Job ids this command asks to watch. */
  watch?: string[];
  /** The command's answer (see CommandAnswers). */
  data?: CommandAnswers[
    | 'jobs.submit'
    | 'jobs.stop'
    | 'jobs.logs'
    | 'jobs.failures'
    | 'serve.apply'
    | 'serve.remove'
    | 'serve.status'];
  /** When the dashboard answered (ms). */
  at: number;
  /** `jobs` is the cluster's whole list (a refresh). */
  complete?: boolean;
}

/** Job views the cluster reported at `at`; `watch` asks to follow some of them. */
interface Reported {
  jobs: JobView[];
  watch?: string[];
  at: number;
  /** From the watcher's poll (which clears the last poll error), not a command. */
  polled?: boolean;
  /** The cluster's whole list: an ended job missing from it was deleted, and goes. */
  complete?: boolean;
}

export const FAST_TICK_MS = 500;
/** Actors of ended jobs kept (subscriptions, a late wait); older ones are stopped, their views stay. */
export const MAX_ENDED_JOB_ACTORS = 50;
export const SLOW_TICK_MS = 2000;
export const jobSystemId = (clusterId: string, submissionId: string) => `job:${clusterId}:${submissionId}`;

const active = (c: JobsContext) => c.watched.filter((id) => c.jobs[id] && !isTerminal(c.jobs[id]!.status));

export const jobsMachine = setup({
  types: {
    context: {} as JobsContext,
    input: {} as { clusterId: string },
    events: {} as JobsCommand | JobsFact | ChildErrorEvent,
    emitted: {} as Answer,
  },
  actors: {
    job: jobMachine,
    runJobCommand: fromPromise<JobCommandOutput, { clusterId: string; command: JobsCommand }>(async () => {
      throw new Error('provided by src/actors/jobs.actor.ts');
    }),
    jobsWatcher: fromEventObservable<
      JobsFact,
      { clusterId: string; dashboard: DashboardTarget; intervalMs: number }
    >(() => {
      throw new Error('provided by src/watchers/jobs.watcher.ts');
    }),
  },
  guards: {
    hasQueue: ({ context }) => context.queue.length > 0,
    anyActive: ({ context }) => context.dashboard !== undefined && active(context).length > 0,
    noneActive: ({ context }) => context.dashboard === undefined || active(context).length === 0,
    anyRunning: ({ context }) => active(context).some((id) => context.jobs[id]!.status === 'RUNNING'),
    noneRunning: ({ context }) => !active(context).some((id) => context.jobs[id]!.status === 'RUNNING'),
  },
  actions: {
    enqueue: assign(({ context, event }) =>
      'requestId' in event ? { queue: [...context.queue, event], dashboard: event.dashboard } : {},
    ),
    /** Merge reported jobs; tell each watched job's actor about its change. */
    merge: enqueueActions(
      ({ context, enqueue }, { jobs: reported, watch = [], at, polled, complete }: Reported) => {
        const jobs = { ...context.jobs };
        const watched = [...context.watched];
        for (const view of reported) {
          const before = jobs[view.submission_id];
          jobs[view.submission_id] = view;
          const isWatched = watched.includes(view.submission_id);
          if (!isWatched && watch.includes(view.submission_id)) {
            watched.push(view.submission_id);
            enqueue.spawnChild('job', {
              id: `job:${view.submission_id}`,
              systemId: jobSystemId(context.clusterId, view.submission_id),
              input: { view, at },
            });
          } else if (isWatched && JSON.stringify(before) !== JSON.stringify(view)) {
            enqueue.sendTo(`job:${view.submission_id}`, { type: 'ray.jobUpdated', view, at });
          }
        }
        // Ended jobs deleted from the cluster go, and their actors with them. (A job missing that has not
        // ended stays: a list fetched while it was being submitted would not name it yet.)
        const drop = new Set<string>();
        if (complete) {
          const listed = new Set(reported.map((v) => v.submission_id));
          for (const [id, view] of Object.entries(jobs)) {
            if (listed.has(id) || !isTerminal(view.status)) continue;
            delete jobs[id];
            drop.add(id);
          }
        }
        // Ended jobs' actors beyond the bound go, oldest first (their views stay in `jobs`).
        const ended = watched.filter((id) => !drop.has(id) && jobs[id] && isTerminal(jobs[id]!.status));
        for (const id of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_JOB_ACTORS))) drop.add(id);
        for (const id of drop) if (watched.includes(id)) enqueue.stopChild(`job:${id}`);
        enqueue.assign({
          jobs,
          watched: drop.size ? watched.filter((id) => !drop.has(id)) : watched,
          lastPollError: polled ? undefined : context.lastPollError,
        });
      },
    ),
    finishOk: enqueueActions(({ context, enqueue }, output: JobCommandOutput) => {
      const [command, ...rest] = context.queue;
      if (!command) return;
      enqueue.assign({ queue: rest });
      enqueue.emit(answerOk(command.requestId, output.data));
    }),
    finishError: enqueueActions(({ context, enqueue }, { error }: { error: unknown }) => {
      const [command, ...rest] = context.queue;
      if (!command) return;
      enqueue.assign({ queue: rest });
      enqueue.emit(answerError(command.requestId, toErrorInfo(error)));
    }),
    dropFailedJob: enqueueActions(
      ({ context, enqueue, self }, { id, error }: { id: string; error: unknown }) => {
        if (!id.startsWith('job:')) return;
        if ((self.getSnapshot().children as Record<string, unknown>)[id]) enqueue.stopChild(id);
        const sid = id.slice('job:'.length);
        enqueue.assign({
          watched: context.watched.filter((w) => w !== sid),
          lastPollError: `job actor of ${sid} failed: ${toErrorInfo(error).message}`,
        });
      },
    ),
    noteWatcherError: assign((_, { error }: { error: unknown }) => ({
      lastPollError: `job watcher failed: ${toErrorInfo(error).message}`,
    })),
    notePollError: assign({
      lastPollError: ({ context, event }) =>
        event.type === 'ray.jobsPollFailed' ? event.error : context.lastPollError,
    }),
  },
}).createMachine({
  id: 'jobs',
  type: 'parallel',
  context: ({ input }) => ({ clusterId: input.clusterId, jobs: {}, watched: [], queue: [] }),
  on: {
    'jobs.submit': { actions: 'enqueue' },
    'jobs.refresh': { actions: 'enqueue' },
    'jobs.get': { actions: 'enqueue' },
    'jobs.stop': { actions: 'enqueue' },
    'jobs.logs': { actions: 'enqueue' },
    'jobs.watch': { actions: 'enqueue' },
    'jobs.failures': { actions: 'enqueue' },
    'serve.apply': { actions: 'enqueue' },
    'serve.remove': { actions: 'enqueue' },
    'serve.status': { actions: 'enqueue' },
    'ray.jobsListed': {
      actions: {
        type: 'merge',
        params: ({ event }) => ({ jobs: event.jobs, at: event.at, polled: true, complete: true }),
      },
    },
    'ray.jobsPollFailed': { actions: 'notePollError' },
    // A job actor that fails stops being watched; the next watch of that job starts a new one.
    'xstate.error.actor.*': {
      actions: { type: 'dropFailedJob', params: ({ event }) => ({ id: event.actorId, error: event.error }) },
    },
  },
  states: {
    work: {
      initial: 'idle',
      states: {
        idle: { always: { guard: 'hasQueue', target: 'working' } },
        working: {
          invoke: {
            src: 'runJobCommand',
            input: ({ context }) => ({ clusterId: context.clusterId, command: context.queue[0]! }),
            onDone: {
              target: 'idle',
              actions: [
                {
                  type: 'merge',
                  params: ({ event }) => ({
                    jobs: event.output.jobs ?? [],
                    watch: event.output.watch,
                    at: event.output.at,
                    complete: event.output.complete,
                  }),
                },
                { type: 'finishOk', params: ({ event }) => event.output },
              ],
            },
            onError: { target: 'idle', actions: { type: 'finishError', params: errorOf } },
          },
        },
      },
    },
    watch: {
      initial: 'off',
      states: {
        off: { always: { guard: 'anyActive', target: 'fast' } },
        cooldown: { after: { [SLOW_TICK_MS]: 'off' } },
        fast: {
          always: [
            { guard: 'noneActive', target: 'off' },
            { guard: 'noneRunning', target: 'slow' },
          ],
          invoke: {
            src: 'jobsWatcher',
            input: ({ context }) => ({
              clusterId: context.clusterId,
              dashboard: context.dashboard!,
              intervalMs: FAST_TICK_MS,
            }),
            // The watcher turns poll failures into events; an error here is a bug: pause, then retry.
            onError: { target: 'cooldown', actions: { type: 'noteWatcherError', params: errorOf } },
          },
        },
        slow: {
          always: [
            { guard: 'noneActive', target: 'off' },
            { guard: 'anyRunning', target: 'fast' },
          ],
          invoke: {
            src: 'jobsWatcher',
            input: ({ context }) => ({
              clusterId: context.clusterId,
              dashboard: context.dashboard!,
              intervalMs: SLOW_TICK_MS,
            }),
            onError: { target: 'cooldown', actions: { type: 'noteWatcherError', params: errorOf } },
          },
        },
      },
    },
  },
});

export type JobsActor = ActorRefFrom<typeof jobsMachine>;
export const jobsSystemId = (clusterId: string) => `jobs:${clusterId}`;
