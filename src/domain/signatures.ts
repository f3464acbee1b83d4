/**
 * What a resource's subscribers hear about, as a string that changes when they should: computed
 * from the snapshots of the actor behind the resource (only the fields named here are read). No
 * schema here: the MCP front uses these before the domain's schemas are built.
 */
import type { RayJobSummary } from './kuberay.js';
import type { RayServiceSummary } from './rayservice.js';

export const jobsUri = (clusterId: string) => `ray://clusters/${clusterId}/jobs`;
export const MAX_RESOURCE_JOBS = 100;

/** A job: its status. */
export const jobSignature = (snapshot: { context: { view: { status: string } } }): string =>
  snapshot.context.view.status;

/** A job list: any job that comes, goes or changes status. */
export const jobListSignature = (snapshot: {
  context: { jobs: Record<string, { submission_id: string; status: string }> };
}): string =>
  Object.values(snapshot.context.jobs)
    .map((j) => `${j.submission_id}:${j.status}`)
    .sort()
    .join(',');

/** A RayJob: its actor's state, KubeRay's status, the Ray job's status, its cluster. */
export const rayJobSignature = (snapshot: {
  value: unknown;
  context: { summary?: Pick<RayJobSummary, 'deploymentStatus' | 'jobStatus' | 'rayClusterName'> };
}): string => {
  const c = snapshot.context.summary;
  return `${String(snapshot.value)}:${c?.deploymentStatus}:${c?.jobStatus}:${c?.rayClusterName}`;
};

/** One word for where a RayService is. */
export function rayServiceState(s: RayServiceSummary): string {
  if (s.deleting) return 'Deleting';
  if (s.upgradeInProgress) return 'Upgrading';
  if (s.ready) return 'Ready';
  const failed = [...s.active.apps, ...s.pending.apps].some((a) =>
    ['DEPLOY_FAILED', 'UNHEALTHY'].includes(a.status),
  );
  if (failed) return 'Unhealthy';
  return s.active.cluster ? 'NotReady' : 'Initializing';
}

/** What a RayService resource's subscribers hear about: its state, clusters, generation seen, apps. */
export const rayServiceSignature = (snapshot: { context: { summary?: RayServiceSummary } }): string => {
  const s = snapshot.context.summary;
  if (!s) return 'absent';
  const apps = [...s.active.apps, ...s.pending.apps].map((a) => `${a.name}=${a.status}`).join(',');
  // generation: a changed spec is a change even when the operator writes no status for it (KubeRay
  // updates status only when something in it differs, so observedGeneration alone may stay behind).
  return [
    rayServiceState(s),
    s.active.cluster,
    s.pending.cluster,
    s.generation,
    s.observedGeneration,
    s.serveEndpoints,
    apps,
  ].join(':');
};
