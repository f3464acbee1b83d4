/**
 * One poll of `GET /api/jobs/` per cluster per tick, for every watched job at once; the jobs
 * machine diffs and forwards only changes. A failed poll is an event, never a crash.
 */
import type { Observable } from 'rxjs';
import { fromEventObservable } from 'xstate';
import type { Dashboards } from '../clients/dashboard.client.js';
import type { DashboardTarget } from '../domain/dashboard.js';
import { type JobsFact, jobView } from '../domain/jobs.js';
import { lazy } from './lazy.js';

type JobsWatcherInput = { clusterId: string; dashboard: DashboardTarget; intervalMs: number };

export function jobsPoll(
  rx: typeof import('rxjs'),
  input: JobsWatcherInput,
  dashboards: Dashboards,
  onPollError?: (clusterId: string, error: string) => void,
): Observable<JobsFact> {
  const client = dashboards.client(input.dashboard, { timeoutMs: 10_000 });
  return rx.timer(0, input.intervalMs).pipe(
    rx.exhaustMap(() =>
      rx.from(
        client
          .listJobs(undefined, 0)
          .then((jobs): JobsFact => {
            if (!Array.isArray(jobs)) throw new Error('the dashboard did not answer with a job list');
            return {
              type: 'ray.jobsListed',
              jobs: jobs.filter((j) => j.submission_id).map((j) => jobView(input.clusterId, j)),
              at: Date.now(),
            };
          })
          .catch((err): JobsFact => {
            const error = err instanceof Error ? err.message : String(err);
            // Logged: a dashboard that stalls shows up as retries, never as failed jobs.
            onPollError?.(input.clusterId, error);
            return { type: 'ray.jobsPollFailed', error };
          }),
      ),
    ),
  );
}

export function jobsWatcherLogic(opts: {
  dashboards: Dashboards;
  /** Told of every failed poll (the next tick retries). */
  onPollError?: (clusterId: string, error: string) => void;
}) {
  return fromEventObservable<JobsFact, JobsWatcherInput>(({ input }) =>
    lazy(async () => jobsPoll(await import('rxjs'), input, opts.dashboards, opts.onPollError)),
  );
}
