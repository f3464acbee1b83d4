/** The job operations (Ray jobs, their logs, KubeRay RayJobs, the job resources): type → { input; output }. */
import type { JobView } from '../jobs.js';
import type {
  CancelJobInput,
  CancelJobOutput,
  InspectJobInput,
  InspectJobOutput,
  JobResourceRow,
  ListJobsInput,
  ListJobsOutput,
  ListRayJobsInput,
  ListRayJobsOutput,
  RayJobRef,
  RetrieveLogsInput,
  RetrieveLogsOutput,
  SubmitJobInput,
  SubmitJobOutput,
  WaitJobInput,
  WaitJobOutput,
} from '../tools/jobs.js';

/** Jobs by status, over every job a list matched (not just the page): for the summary line. */
export type StatusCounts = [status: string, count: number][];

/** What a resource read answers: the body, and the actor to observe for changes with its signature now. */
export interface Followed<T> {
  body: T;
  systemId: string;
  signature: string;
}

export interface JobOperations {
  /** A Ray job on a cluster, or (job_type rayjob) a KubeRay RayJob; `existed`: nothing new was submitted. */
  'job.submit': { input: SubmitJobInput; output: SubmitJobOutput };
  'job.list': { input: ListJobsInput; output: ListJobsOutput & { counts: StatusCounts } };
  'job.inspect': { input: InspectJobInput; output: InspectJobOutput };
  'job.cancel': { input: CancelJobInput; output: CancelJobOutput };
  /** Answered when the job ends or `timeout_seconds` pass (then `ended: false`); progress on the way. */
  'job.wait': { input: WaitJobInput; output: WaitJobOutput };
  'job.logs': { input: RetrieveLogsInput; output: RetrieveLogsOutput };
  'rayjob.list': { input: ListRayJobsInput; output: ListRayJobsOutput & { counts: StatusCounts } };
  /** The job resource: one job, kept watched. */
  'job.follow': { input: { cluster_id: string; submission_id: string }; output: Followed<JobView> };
  /** The job-list resource: the newest jobs of a cluster, every unfinished one kept watched. */
  'job.followList': { input: { cluster_id: string }; output: Followed<JobResourceRow[]> };
  /** The RayJob resource (`context`: the connection id, not URI-encoded). */
  'rayjob.follow': {
    input: { context: string; namespace: string; name: string };
    output: Followed<JobView & { rayjob: RayJobRef }>;
  };
  /** The ids of the clusters ray-mcp knows, for the job-list resources. */
  'job.clusters': { input: Record<string, never>; output: { clusters: string[] } };
}
