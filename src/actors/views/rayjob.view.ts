/** RayJob summaries and actors → what the job tools and the RayJob resource return. */
import { JOB_STATUSES, type JobStatus, type JobView } from '../../domain/jobs.js';
import type { RayJobSummary } from '../../domain/kuberay.js';
import { type RayJobRef, rayJobUri } from '../../domain/tools/jobs.js';

/** What a RayJob says about its Ray job, in the shape of the other job tools. */
export function rayJobJobView(s: RayJobSummary): JobView {
  let status: JobStatus = 'PENDING';
  if (s.jobStatus && (JOB_STATUSES as readonly string[]).includes(s.jobStatus))
    status = s.jobStatus as JobStatus;
  else if (s.deploymentStatus === 'Failed' || s.deploymentStatus === 'ValidationFailed') status = 'FAILED';
  else if (s.deploymentStatus === 'Suspended') status = 'STOPPED';
  const start = s.startTime ? Date.parse(s.startTime) : undefined;
  const end = s.endTime ? Date.parse(s.endTime) : undefined;
  return {
    submission_id: s.jobId ?? s.name,
    job_id: s.jobId,
    cluster_id: s.rayClusterName ?? s.clusterSelector ?? '',
    status,
    entrypoint: s.entrypoint,
    message: s.message ?? s.reason,
    start_time: s.startTime,
    end_time: s.endTime,
    duration_seconds: start && end ? Math.round((end - start) / 100) / 10 : undefined,
  };
}

export function rayJobRef(s: RayJobSummary, connectionId: string): RayJobRef {
  return {
    name: s.name,
    namespace: s.namespace,
    context: connectionId,
    deployment_status: s.deploymentStatus,
    reason: s.reason,
    ray_cluster: s.rayClusterName,
    cluster_selector: s.clusterSelector,
    owned: s.managedByUs,
    protected: s.protected || undefined,
    suspended: s.suspend,
    shutdown_after_job_finishes: s.shutdownAfterJobFinishes,
    deleting: s.deleting,
    created_at: s.createdAt,
    uri: rayJobUri(connectionId, s.namespace, s.name),
  };
}

/** The job view and the RayJob reference together, as the tools return them. */
export const rayJobResult = (s: RayJobSummary, connectionId: string) => ({
  view: rayJobJobView(s),
  rayjob: rayJobRef(s, connectionId),
});
