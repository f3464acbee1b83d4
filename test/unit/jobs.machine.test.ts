import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type AnyActorRef, fromEventObservable, fromPromise, type InspectionEvent } from 'xstate';
import type { DashboardTarget } from '../../src/domain/dashboard.js';
import { RayMcpError } from '../../src/domain/errors.js';
import type { JobStatus, JobView } from '../../src/domain/jobs.js';
import { type JobActor, jobMachine } from '../../src/machines/job.machine.js';
import {
  FAST_TICK_MS,
  type JobCommandOutput,
  type JobsCommand,
  type JobsFact,
  jobSystemId,
  jobsMachine,
  SLOW_TICK_MS,
} from '../../src/machines/jobs.machine.js';
import { answersOf, type Deferred, deferred, drive, ok, settle } from '../helpers/machine.js';

// ---------------------------------------------------------------------------------------------
// Fakes: runJobCommand answers from a handler the test controls; each jobsWatcher start records
// its input and gets a Subject the test pushes facts into.

const CLUSTER = 'c1';
const DASHBOARD: DashboardTarget = { url: 'http://127.0.0.1:28265', owner: `${CLUSTER}@1` };

const view = (id: string, status: JobStatus, extra: Partial<JobView> = {}): JobView => ({
  submission_id: id,
  cluster_id: CLUSTER,
  status,
  entrypoint: 'python main.py',
  ...extra,
});

type WatcherInput = { clusterId: string; dashboard: DashboardTarget; intervalMs: number };
interface Watcher {
  input: WatcherInput;
  subject: Subject<JobsFact>;
}

/** What a command answers, before the runner stamps it with the time the dashboard answered. */
type Output = Omit<JobCommandOutput, 'at'>;
type Handler = (command: JobsCommand) => Promise<Output>;
/** When the fake dashboard answers (commands and polls alike). */
const AT = 1_700_000_000_000;

function start(handler: Handler = async () => ({})) {
  const runs: JobsCommand[] = [];
  const watchers: Watcher[] = [];
  const logic = jobsMachine.provide({
    actors: {
      runJobCommand: fromPromise<JobCommandOutput, { clusterId: string; command: JobsCommand }>(
        async ({ input }) => {
          expect(input.clusterId).toBe(CLUSTER);
          runs.push(input.command);
          return { ...(await handler(input.command)), at: AT };
        },
      ),
      jobsWatcher: fromEventObservable<JobsFact, WatcherInput>(({ input }) => {
        const subject = new Subject<JobsFact>();
        watchers.push({ input, subject });
        return subject;
      }),
    },
  });
  /** Every `ray.jobUpdated` delivered to a job actor. */
  const updates: { to: string; status: JobStatus }[] = [];
  const inspect = (ev: InspectionEvent) => {
    if (ev.type === '@xstate.event' && ev.event.type === 'ray.jobUpdated') {
      const to = (ev.actorRef as AnyActorRef).id;
      updates.push({ to, status: (ev.event as unknown as { view: JobView }).view.status });
    }
  };
  // Every command names the cluster's dashboard, as the supervisor's do.
  const t = drive(logic, { input: { clusterId: CLUSTER }, inspect, stamp: { dashboard: DASHBOARD } });
  const job = (id: string) => t.lookup(jobSystemId(CLUSTER, id)) as JobActor | undefined;
  /** Watchers that are still subscribed. */
  const live = () => watchers.filter((w) => w.subject.observed);
  const listed = (...jobs: JobView[]) => t.actor.send({ type: 'ray.jobsListed', jobs, at: AT });
  return { ...t, runs, watchers, updates, job, live, listed };
}

/** A submit as the real actor answers it: the job's view, and a request to watch it. */
const submitted =
  (status: JobStatus): Handler =>
  async (command) => {
    if (command.type !== 'jobs.submit') return {};
    const id = command.submit.submission_id ?? 'raysubmit_1';
    return { jobs: [view(id, status)], watch: [id], data: { submissionId: id, existed: false } };
  };

// ---------------------------------------------------------------------------------------------

describe('jobs machine: the command queue', () => {
  it('serves commands one at a time, in order: a slow first command delays the second', async () => {
    const gates = new Map<string, Deferred<Output>>();
    const t = start((command) => {
      const d = deferred<Output>();
      gates.set(command.requestId, d);
      return d.promise;
    });
    const first = t.send({ type: 'jobs.get', id: 'a' });
    const second = t.send({ type: 'jobs.get', id: 'b' });
    const third = t.send({ type: 'jobs.refresh' });
    await settle();
    expect(t.runs.map((c) => c.requestId)).toEqual([first]);
    expect(t.context().queue.map((c) => c.requestId)).toEqual([first, second, third]);

    gates.get(first)!.resolve({ data: { alreadyEnded: true } });
    await t.answered(first);
    await settle();
    expect(t.runs.map((c) => c.requestId)).toEqual([first, second]);
    expect(t.answers.map((a) => a.requestId)).toEqual([first]);

    gates.get(second)!.resolve({});
    await t.answered(second);
    await settle();
    expect(t.runs.map((c) => c.requestId)).toEqual([first, second, third]);
    gates.get(third)!.resolve({ data: { alreadyEnded: false } });
    await t.answered(third);
    expect(t.answers).toEqual([
      { type: 'answer', requestId: first, ok: true, data: { alreadyEnded: true } },
      { type: 'answer', requestId: second, ok: true },
      { type: 'answer', requestId: third, ok: true, data: { alreadyEnded: false } },
    ]);
    expect(t.context().queue).toEqual([]);
    expect(t.snapshot().matches({ work: 'idle' })).toBe(true);
  });

  it('passes each command to the runner as sent', async () => {
    const t = start();
    const id = t.send({
      type: 'jobs.logs',
      id: 'j',
      lines: 50,
      maxBytes: 4096,
      cursor: 'b:10',
      logPath: '/x',
    });
    await t.answered(id);
    expect(t.runs).toEqual([
      {
        type: 'jobs.logs',
        requestId: id,
        dashboard: DASHBOARD,
        id: 'j',
        lines: 50,
        maxBytes: 4096,
        cursor: 'b:10',
        logPath: '/x',
      },
    ]);
    expect(t.context().dashboard).toEqual(DASHBOARD);
  });

  it('answers a failing command with its error, and goes on with the queue', async () => {
    const notFound = new RayMcpError(
      'not_found',
      'No job nope on cluster c1.',
      'list_ray_jobs shows the jobs.',
    );
    const t = start(async (command) => {
      if (command.type === 'jobs.get' && command.id === 'nope') throw notFound;
      if (command.type === 'jobs.stop') throw new Error('socket hang up');
      return { data: { alreadyEnded: false } };
    });
    const bad = t.send({ type: 'jobs.get', id: 'nope' });
    const crash = t.send({ type: 'jobs.stop', id: 'x' });
    const good = t.send({ type: 'jobs.get', id: 'fine' });
    await t.answered(good);
    expect(t.answers).toEqual([
      { type: 'answer', requestId: bad, ok: false, error: notFound.toInfo() },
      {
        type: 'answer',
        requestId: crash,
        ok: false,
        error: expect.objectContaining({
          code: 'internal',
          message: expect.stringContaining('socket hang up'),
        }),
      },
      { type: 'answer', requestId: good, ok: true, data: { alreadyEnded: false } },
    ]);
  });

  it('records the jobs a command reports, without watching them unless asked', async () => {
    const t = start(async () => ({ jobs: [view('a', 'RUNNING'), view('b', 'SUCCEEDED')] }));
    await t.ask({ type: 'jobs.refresh' });
    expect(Object.keys(t.context().jobs).sort()).toEqual(['a', 'b']);
    expect(t.context().watched).toEqual([]);
    expect(t.job('a')).toBeUndefined();
    expect(t.watchers).toEqual([]);
  });
});

describe('jobs machine: watching jobs', () => {
  it('spawns a job actor on submit, polls FAST while it runs and stops polling once it ended', async () => {
    const t = start(submitted('RUNNING'));
    const a = await t.ask({
      type: 'jobs.submit',
      submit: { entrypoint: 'python main.py', submission_id: 'j1' },
    });
    expect(a).toEqual({
      type: 'answer',
      requestId: a.requestId,
      ok: true,
      data: { submissionId: 'j1', existed: false },
    });

    const job = t.job('j1');
    expect(job).toBeDefined();
    expect(job!.getSnapshot().value).toBe('running');
    expect(job!.getSnapshot().context).toMatchObject({ clusterId: CLUSTER, submissionId: 'j1' });
    expect(t.context().watched).toEqual(['j1']);

    // One watcher, fast.
    expect(t.watchers.map((w) => w.input)).toEqual([
      { clusterId: CLUSTER, dashboard: DASHBOARD, intervalMs: FAST_TICK_MS },
    ]);
    expect(FAST_TICK_MS).toBe(500);
    expect(t.live()).toHaveLength(1);
    expect(t.snapshot().matches({ watch: 'fast' })).toBe(true);

    // A listing that changes nothing keeps the same watcher.
    t.watchers[0]!.subject.next({ type: 'ray.jobsListed', jobs: [view('j1', 'RUNNING')], at: AT });
    expect(t.watchers).toHaveLength(1);
    expect(t.live()).toEqual([t.watchers[0]]);

    // Ended: the watcher is stopped and none is started.
    t.watchers[0]!.subject.next({
      type: 'ray.jobsListed',
      jobs: [view('j1', 'SUCCEEDED', { end_time: '2025-01-07T10:00:00.000Z' })],
      at: AT,
    });
    expect(t.snapshot().matches({ watch: 'off' })).toBe(true);
    expect(t.live()).toEqual([]);
    expect(t.watchers).toHaveLength(1);
    expect(job!.getSnapshot().value).toBe('succeeded');
    expect(job!.getSnapshot().hasTag('ended')).toBe(true);
    expect(job!.getSnapshot().context.view.end_time).toBe('2025-01-07T10:00:00.000Z');
    // The ended job's actor stays, so its result can be read.
    expect(t.job('j1')).toBe(job);
  });

  it('a job submitted PENDING is polled SLOW, then FAST once it runs', async () => {
    const t = start(submitted('PENDING'));
    await t.ask({ type: 'jobs.submit', submit: { entrypoint: 'python main.py', submission_id: 'p1' } });
    const job = t.job('p1')!;
    expect(job.getSnapshot().value).toBe('pending');
    expect(t.snapshot().matches({ watch: 'slow' })).toBe(true);
    expect(t.live().map((w) => w.input.intervalMs)).toEqual([SLOW_TICK_MS]);
    expect(t.watchers.map((w) => w.input.intervalMs)).toEqual([SLOW_TICK_MS]);
    expect(SLOW_TICK_MS).toBe(2000);

    expect(job.getSnapshot().context.changedAt).toBe(AT);
    // The job actor hears when the dashboard reported the change.
    t.live()[0]!.subject.next({ type: 'ray.jobsListed', jobs: [view('p1', 'RUNNING')], at: AT + 500 });
    expect(job.getSnapshot().value).toBe('running');
    expect(job.getSnapshot().context.changedAt).toBe(AT + 500);
    expect(t.live().map((w) => w.input.intervalMs)).toEqual([FAST_TICK_MS]);
  });

  it('polls fast while any watched job runs, and stops only when every one ended', async () => {
    const t = start(submitted('PENDING'));
    await t.ask({ type: 'jobs.submit', submit: { entrypoint: 'a', submission_id: 'a' } });
    await t.ask({ type: 'jobs.submit', submit: { entrypoint: 'b', submission_id: 'b' } });
    expect(t.context().watched).toEqual(['a', 'b']);
    expect(t.live().map((w) => w.input.intervalMs)).toEqual([SLOW_TICK_MS]);

    t.listed(view('a', 'RUNNING'), view('b', 'PENDING'));
    expect(t.live().map((w) => w.input.intervalMs)).toEqual([FAST_TICK_MS]);
    t.listed(view('a', 'FAILED'), view('b', 'PENDING'));
    expect(t.live().map((w) => w.input.intervalMs)).toEqual([SLOW_TICK_MS]);
    t.listed(view('a', 'FAILED'), view('b', 'RUNNING'));
    expect(t.live().map((w) => w.input.intervalMs)).toEqual([FAST_TICK_MS]);
    t.listed(view('a', 'FAILED'), view('b', 'STOPPED'));
    expect(t.live()).toEqual([]);
    expect(t.job('a')!.getSnapshot().value).toBe('failed');
    expect(t.job('b')!.getSnapshot().value).toBe('stopped');
  });

  it('forwards a changed listing to the job actor, and never an unchanged one', async () => {
    const t = start(submitted('RUNNING'));
    await t.ask({ type: 'jobs.submit', submit: { entrypoint: 'python main.py', submission_id: 'j1' } });
    const job = t.job('j1')!;
    const watcher = t.watchers[0]!;
    // Jobs that are not watched are recorded, but have no actor to tell.
    watcher.subject.next({
      type: 'ray.jobsListed',
      jobs: [view('j1', 'RUNNING'), view('other', 'RUNNING')],
      at: AT,
    });
    watcher.subject.next({
      type: 'ray.jobsListed',
      jobs: [view('j1', 'RUNNING'), view('other', 'FAILED')],
      at: AT,
    });
    expect(t.updates).toEqual([]);
    expect(t.context().jobs.other?.status).toBe('FAILED');
    expect(t.job('other')).toBeUndefined();

    // Any change of the view is forwarded, once.
    const withMessage = view('j1', 'RUNNING', { message: 'Job is currently running.' });
    watcher.subject.next({ type: 'ray.jobsListed', jobs: [withMessage], at: AT });
    watcher.subject.next({ type: 'ray.jobsListed', jobs: [withMessage], at: AT });
    expect(t.updates).toEqual([{ to: 'job:j1', status: 'RUNNING' }]);
    expect(job.getSnapshot().context.view.message).toBe('Job is currently running.');

    watcher.subject.next({
      type: 'ray.jobsListed',
      jobs: [view('j1', 'FAILED', { message: 'boom' })],
      at: AT,
    });
    expect(t.updates).toEqual([
      { to: 'job:j1', status: 'RUNNING' },
      { to: 'job:j1', status: 'FAILED' },
    ]);
    expect(job.getSnapshot().value).toBe('failed');

    // A command's output is merged the same way.
    await t.ask({ type: 'jobs.refresh' });
    expect(t.updates).toHaveLength(2);
  });

  it('notes a failed poll, and a listing clears it', async () => {
    const t = start(submitted('RUNNING'));
    await t.ask({ type: 'jobs.submit', submit: { entrypoint: 'x', submission_id: 'j1' } });
    t.watchers[0]!.subject.next({ type: 'ray.jobsPollFailed', error: 'connect ECONNREFUSED' });
    expect(t.context().lastPollError).toBe('connect ECONNREFUSED');
    expect(t.live()).toHaveLength(1);
    t.listed(view('j1', 'RUNNING'));
    expect(t.context().lastPollError).toBeUndefined();
  });

  it('watching a job that already ended spawns its actor but never polls', async () => {
    const t = start(async (command) =>
      command.type === 'jobs.watch' ? { jobs: [view(command.id, 'SUCCEEDED')], watch: [command.id] } : {},
    );
    await t.ask({ type: 'jobs.watch', id: 'done' });
    expect(t.job('done')!.getSnapshot().value).toBe('succeeded');
    expect(t.watchers).toEqual([]);
  });
});

describe('job actor: awaitEnd', () => {
  it('answers at once when the job has ended, and when it ends otherwise (via the jobs machine)', async () => {
    const t = start(submitted('RUNNING'));
    await t.ask({ type: 'jobs.submit', submit: { entrypoint: 'x', submission_id: 'j1' } });
    const job = t.job('j1')!;
    const answers = answersOf(job);

    job.send({ type: 'job.awaitEnd', requestId: 'w1' });
    job.send({ type: 'job.awaitEnd', requestId: 'w2' });
    expect(answers).toEqual([]);
    expect(job.getSnapshot().context.waiting).toEqual(['w1', 'w2']);

    t.listed(view('j1', 'RUNNING', { message: 'still at it' }));
    expect(answers).toEqual([]);
    t.listed(view('j1', 'STOPPED'));
    expect(answers).toEqual([
      { type: 'answer', requestId: 'w1', ok: true },
      { type: 'answer', requestId: 'w2', ok: true },
    ]);
    expect(job.getSnapshot().context.waiting).toEqual([]);

    job.send({ type: 'job.awaitEnd', requestId: 'w3' });
    expect(answers.at(-1)).toEqual({ type: 'answer', requestId: 'w3', ok: true });
    expect(answers).toHaveLength(3);
  });

  it('starts in the state of its first view and notes when the status changes', async () => {
    for (const [status, state] of [
      ['PENDING', 'pending'],
      ['RUNNING', 'running'],
      ['SUCCEEDED', 'succeeded'],
      ['FAILED', 'failed'],
      ['STOPPED', 'stopped'],
    ] as const) {
      const job = drive(jobMachine, { input: { view: view('x', status), at: AT } });
      expect(job.state()).toBe(state);
      expect(job.snapshot().hasTag('ended')).toBe(['succeeded', 'failed', 'stopped'].includes(state));
    }

    const t = drive(jobMachine, { input: { view: view('y', 'PENDING'), at: AT } });
    // The time of a change is the time of the view that shows it.
    expect(t.context().changedAt).toBe(AT);
    t.actor.send({
      type: 'ray.jobUpdated',
      view: view('y', 'PENDING', { message: 'waiting for resources' }),
      at: AT + 1000,
    });
    expect(t.context().changedAt).toBe(AT);
    t.actor.send({ type: 'ray.jobUpdated', view: view('y', 'RUNNING'), at: AT + 2000 });
    expect(t.context().changedAt).toBe(AT + 2000);
    const end = t.send({ type: 'job.awaitEnd' });
    t.actor.send({
      type: 'ray.jobUpdated',
      view: view('y', 'FAILED', { message: 'exit code 1' }),
      at: AT + 3000,
    });
    await t.until((s) => s.hasTag('ended'));
    expect(t.answers).toEqual([ok(end)]);
    expect(t.context().view.message).toBe('exit code 1');
    // A terminal job stays where it is, but keeps the latest view.
    t.actor.send({
      type: 'ray.jobUpdated',
      view: view('y', 'FAILED', { message: 'exit code 1 (again)' }),
      at: AT + 4000,
    });
    expect(t.state()).toBe('failed');
    expect(t.context().view.message).toBe('exit code 1 (again)');
    expect(t.answers).toHaveLength(1);
  });
});
