/**
 * Fast handler tests of the job and log tools, on a fake local cluster and on KubeRay RayJobs
 * (test/helpers/fake-world.ts): submit, list, inspect, cancel, wait, read logs.
 */
import type { Client } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { fakeServers, invalidArg, ok, type Result, refused } from '../helpers/fake-server.js';
import type { FakeWorld } from '../helpers/fake-world.js';
import { textOf } from '../helpers/mcp.js';

const start = fakeServers();

/** A server with one running local cluster (local-1); `url` is its dashboard. */
async function withCluster(setup?: (w: FakeWorld) => void) {
  const s = await start(setup);
  const cluster = await ok(s.client, 'init_ray_cluster');
  return { ...s, url: cluster.dashboard_url as string };
}

/** A server connected to a fake Kubernetes context `kind-dev` with KubeRay. */
async function withKube() {
  return start((w) => w.kube.addContext('kind-dev'));
}

const TRACEBACK = [
  'Traceback (most recent call last):',
  '  File "/app/train.py", line 3, in <module>',
  '    import torch',
  "ModuleNotFoundError: No module named 'torch'",
];

const soon = (fn: () => void, ms = 20) => setTimeout(fn, ms);

/** Submits the RayJob `etl` and lets KubeRay (the fake) start its Ray job. */
async function submitRayJob(
  s: { client: Client; world: FakeWorld },
  args: Record<string, unknown> = {},
): Promise<Result> {
  const r = await ok(s.client, 'submit_ray_job', {
    job_type: 'rayjob',
    entrypoint: 'python etl.py',
    rayjob: 'etl',
    ...args,
  });
  await s.world.settle();
  return r;
}

describe('submit_ray_job', () => {
  it('submits to the current cluster; the job is there, running', async () => {
    const { client, world, url } = await withCluster();
    const r = await ok(client, 'submit_ray_job', {
      entrypoint: 'python train.py',
      submission_id: 'train-1',
      runtime_env: { env_vars: { API_KEY: 'SECRET-VALUE' }, pip: ['numpy'] },
    });
    expect(r).toMatchObject({
      submission_id: 'train-1',
      cluster_id: 'local-1',
      status: 'RUNNING',
      entrypoint: 'python train.py',
      existed: false,
      runtime_env: { env_vars: ['API_KEY'], pip: 1 },
    });
    expect(JSON.stringify(r)).not.toContain('SECRET-VALUE');
    expect(world.ray.jobs.get('train-1')).toMatchObject({
      dashboardUrl: url,
      details: { entrypoint: 'python train.py' },
    });
  });

  it('returns the existing job for a submission_id already taken, submitting nothing new', async () => {
    const { client, world } = await withCluster();
    await ok(client, 'submit_ray_job', { entrypoint: 'python a.py', submission_id: 'same' });
    const again = await client.callTool({
      name: 'submit_ray_job',
      arguments: { entrypoint: 'python a.py', submission_id: 'same' },
    });
    expect(again.structuredContent).toMatchObject({ submission_id: 'same', existed: true });
    expect(textOf(again)).toMatch(/already existed/);
    expect(world.ray.jobs.size).toBe(1);
  });

  it('refuses without a running cluster, and RayJob options without job_type', async () => {
    const { client } = await start();
    await refused(client, 'submit_ray_job', { entrypoint: 'python a.py' }, /There is no current cluster/);
    await ok(client, 'init_ray_cluster', { cluster_name: 'gone' });
    await ok(client, 'stop_ray_cluster', { cluster_id: 'gone' });
    await refused(
      client,
      'submit_ray_job',
      { entrypoint: 'python a.py', cluster_id: 'gone' },
      /Cluster gone is stopped; jobs need a running cluster/,
      /Fix: Start one with init_ray_cluster/,
    );
    await ok(client, 'init_ray_cluster');
    await refused(
      client,
      'submit_ray_job',
      { entrypoint: 'python a.py', namespace: 'ray' },
      /namespace is for RayJobs/,
      /Fix: Pass job_type "rayjob"/,
    );
    await refused(client, 'submit_ray_job', { entrypoint: '' }, invalidArg('entrypoint'));
    await refused(
      client,
      'submit_ray_job',
      { entrypoint: 'x', submission_id: 'a b' },
      invalidArg('submission_id'),
    );
  });

  it('creates a RayJob with a cluster of its own (job_type rayjob), with the ids inspect gives', async () => {
    const s = await withKube();
    const r = await submitRayJob(s);
    // One id scheme: the Ray job's id is the RayJob's name, and its cluster is the one KubeRay named.
    const inspected = await ok(s.client, 'inspect_ray_job', { rayjob: 'etl' });
    expect({ submission_id: r.submission_id, cluster_id: r.cluster_id }).toEqual({
      submission_id: inspected.submission_id,
      cluster_id: inspected.cluster_id,
    });
    expect(r).toMatchObject({
      submission_id: 'etl',
      cluster_id: 'etl-x7k2p',
      existed: false,
      rayjob: {
        name: 'etl',
        namespace: 'default',
        context: 'kind-dev',
        owned: true,
        shutdown_after_job_finishes: true,
        uri: expect.stringContaining('/namespaces/default/rayjobs/etl'),
      },
    });
    expect(s.world.kube.apis.get('kind-dev')!.rayJobs.get('default/etl')).toMatchObject({
      entrypoint: 'python etl.py',
      managedByUs: true,
    });
    const again = await submitRayJob(s);
    expect(again).toMatchObject({ existed: true, status: 'RUNNING', rayjob: { ray_cluster: 'etl-x7k2p' } });
  });

  it('refuses what a RayJob cannot take', async () => {
    const { client, world } = await withKube();
    await refused(
      client,
      'submit_ray_job',
      { job_type: 'rayjob', entrypoint: 'python a.py', runtime_env: { working_dir: '/home/me/code' } },
      /cannot take the local folder \/home\/me\/code/,
      /Fix: Use a remote URI/,
    );
    await refused(
      client,
      'submit_ray_job',
      { job_type: 'rayjob', entrypoint: 'python a.py', entrypoint_memory: 1024 },
      /A RayJob has no entrypoint_memory/,
    );
    await ok(client, 'init_ray_cluster', { cluster_name: 'loc' });
    await refused(
      client,
      'submit_ray_job',
      { job_type: 'rayjob', entrypoint: 'python a.py', cluster_id: 'loc' },
      /loc is not a KubeRay cluster/,
    );
    await submitRayJob({ client, world });
    await refused(
      client,
      'submit_ray_job',
      { job_type: 'rayjob', entrypoint: 'python other.py', rayjob: 'etl' },
      /A RayJob default\/etl already exists with another entrypoint/,
    );
  });
});

describe('list_ray_jobs', () => {
  it('lists jobs newest first, filters by status and pages', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'old', 'SUCCEEDED', { startedAgoMs: 30_000 });
    world.ray.addJob(url, 'mid', 'FAILED', { startedAgoMs: 20_000 });
    world.ray.addJob(url, 'new', 'RUNNING', { startedAgoMs: 10_000 });
    const all = await ok(client, 'list_ray_jobs');
    expect(all).toMatchObject({ cluster_id: 'local-1', total: 3 });
    expect(all.jobs.map((j: { submission_id: string }) => j.submission_id)).toEqual(['new', 'mid', 'old']);
    const failed = await ok(client, 'list_ray_jobs', { status: ['FAILED'] });
    expect(failed).toMatchObject({ total: 1, jobs: [{ submission_id: 'mid', status: 'FAILED' }] });
    const page1 = await ok(client, 'list_ray_jobs', { limit: 2 });
    expect(page1.jobs).toHaveLength(2);
    expect(page1.next_cursor).toBeDefined();
    const page2 = await ok(client, 'list_ray_jobs', { limit: 2, cursor: page1.next_cursor });
    expect(page2.jobs.map((j: { submission_id: string }) => j.submission_id)).toEqual(['old']);
    expect(page2.next_cursor).toBeUndefined();
  });

  it('says so when the cluster has no jobs', async () => {
    const { client } = await withCluster();
    const res = await client.callTool({ name: 'list_ray_jobs', arguments: {} });
    expect(res.structuredContent).toMatchObject({ total: 0, jobs: [] });
    expect(textOf(res)).toMatch(/No jobs on local-1/);
  });

  it('refuses a made-up cursor, an unknown status and a missing cluster', async () => {
    const { client } = await start();
    await refused(client, 'list_ray_jobs', {}, /There is no current cluster/);
    await refused(client, 'list_ray_jobs', { cursor: 'page-2' }, invalidArg('cursor'));
    await refused(client, 'list_ray_jobs', { status: ['DONE'] }, invalidArg('status'));
  });
});

describe('inspect_ray_job', () => {
  it('shows a running job, found by submission_id or job_id', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'run-1', 'RUNNING', { entrypoint: 'python serve.py' });
    const r = await ok(client, 'inspect_ray_job', { submission_id: 'run-1' });
    expect(r).toMatchObject({ submission_id: 'run-1', status: 'RUNNING', entrypoint: 'python serve.py' });
    expect(r.failure).toBeUndefined();
    expect((await ok(client, 'inspect_ray_job', { job_id: 'run-1' })).submission_id).toBe('run-1');
  });

  it('explains a failed job from its log', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'bad-1', 'RUNNING', { entrypoint: 'python train.py' });
    world.ray.endJob('bad-1', 'FAILED', {
      log: TRACEBACK,
      message: 'Job entrypoint command failed with exit code 1',
    });
    const r = await ok(client, 'inspect_ray_job', { submission_id: 'bad-1' });
    expect(r).toMatchObject({
      status: 'FAILED',
      failure: {
        cause: 'missing_module',
        missing_module: 'torch',
        exception: { type: 'ModuleNotFoundError' },
      },
    });
    expect(r.failure.suggestion).toMatch(/runtime_env\.pip/);
  });

  it('shows a RayJob by name', async () => {
    const { client, world } = await withKube();
    await submitRayJob({ client, world });
    const r = await ok(client, 'inspect_ray_job', { rayjob: 'etl' });
    expect(r).toMatchObject({ status: 'RUNNING', rayjob: { name: 'etl', deployment_status: 'Running' } });
  });

  it('refuses without an id, and names unknown jobs and RayJobs', async () => {
    const { client } = await withCluster();
    await refused(
      client,
      'inspect_ray_job',
      {},
      /Which job\? submission_id is missing/,
      /Fix: Pass submission_id/,
    );
    await refused(client, 'inspect_ray_job', { submission_id: 'nope' }, /No job nope/);
    const kube = await withKube();
    await submitRayJob(kube);
    await refused(
      kube.client,
      'inspect_ray_job',
      { rayjob: 'ghost' },
      /No RayJob ghost in namespace default of kind-dev/,
      /RayJobs there: etl/,
    );
    await refused(kube.client, 'inspect_ray_job', { rayjob: 'Bad_Name' }, invalidArg('rayjob'));
  });
});

describe('cancel_ray_job', () => {
  it('stops a running job; a job that ended is left alone', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'long', 'RUNNING');
    const r = await ok(client, 'cancel_ray_job', { submission_id: 'long' });
    expect(r).toMatchObject({ submission_id: 'long', status: 'STOPPED', already_ended: false });
    expect(world.ray.jobs.get('long')!.details.status).toBe('STOPPED');
    const again = await ok(client, 'cancel_ray_job', { submission_id: 'long' });
    expect(again).toMatchObject({ status: 'STOPPED', already_ended: true });
  });

  it('suspends a RayJob with its own cluster by default, and deletes one when asked', async () => {
    const { client, world } = await withKube();
    await submitRayJob({ client, world });
    const r = await ok(client, 'cancel_ray_job', { rayjob: 'etl' });
    expect(r).toMatchObject({
      mode: 'suspend',
      already_ended: false,
      rayjob: { deployment_status: 'Suspended' },
    });
    await submitRayJob({ client, world }, { rayjob: 'etl-2' });
    const d = await ok(client, 'cancel_ray_job', { rayjob: 'etl-2', mode: 'delete' });
    expect(d).toMatchObject({ mode: 'delete', rayjob: { deleting: true } });
    expect(world.kube.apis.get('kind-dev')!.rayJobs.has('default/etl-2')).toBe(false);
  });

  // The race of a watch DELETED event that arrives before the DELETE answers is covered in
  // test/unit/rayjob.machine.test.ts (`cancelling` now goes to `gone` on k8s.rayJobGone).

  it('refuses a mode without a RayJob, a missing id, and suspending a RayJob on a shared cluster', async () => {
    const { client, world } = await withKube();
    await refused(client, 'cancel_ray_job', { submission_id: 'x', mode: 'stop' }, /mode is for RayJobs/);
    await ok(client, 'init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'shared' });
    await refused(client, 'cancel_ray_job', {}, /Which job\? submission_id is missing/);
    await submitRayJob({ client, world }, { cluster_id: 'shared' });
    await refused(
      client,
      'cancel_ray_job',
      { rayjob: 'etl', mode: 'suspend' },
      /runs on the existing cluster shared, so KubeRay cannot suspend it/,
      /Fix: Use mode "stop"/,
    );
    await refused(client, 'cancel_ray_job', { rayjob: 'etl', mode: 'pause' }, invalidArg('mode'));
  });
});

describe('wait_for_ray_job', () => {
  it('returns once the job ends', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'w-1', 'RUNNING');
    soon(() => world.ray.endJob('w-1', 'SUCCEEDED', { log: ['done'] }));
    const r = await ok(client, 'wait_for_ray_job', { submission_id: 'w-1', timeout_seconds: 5 });
    expect(r).toMatchObject({ submission_id: 'w-1', status: 'SUCCEEDED', ended: true });
    expect(r.waited_seconds).toBeLessThan(5);
  });

  it('answers at once for a job that already failed, with the analysis', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'f-1', 'FAILED', { log: TRACEBACK });
    const res = await client.callTool({ name: 'wait_for_ray_job', arguments: { submission_id: 'f-1' } });
    expect(res.structuredContent).toMatchObject({
      status: 'FAILED',
      ended: true,
      failure: { cause: 'missing_module' },
    });
    expect(textOf(res)).toMatch(/f-1 ended FAILED/);
  });

  it('waits for a RayJob until KubeRay reports its end', async () => {
    const { client, world } = await withKube();
    await submitRayJob({ client, world });
    soon(() => world.kube.endRayJob('kind-dev', 'default', 'etl', 'SUCCEEDED'));
    const r = await ok(client, 'wait_for_ray_job', { rayjob: 'etl', timeout_seconds: 5 });
    expect(r).toMatchObject({ ended: true, status: 'SUCCEEDED', rayjob: { deployment_status: 'Complete' } });
  });

  it('gives the Kubernetes events of a RayJob that failed, and of its Ray job read through retrieve_logs', async () => {
    const { client, world } = await withKube();
    await submitRayJob({ client, world });
    world.kube.kubeEvents.set('etl-x7k2p-head-q9z', [
      {
        reason: 'OOMKilled',
        type: 'Warning',
        message: 'Container ray-head was OOMKilled (exit code 137)',
        involvedObject: { kind: 'Pod', name: 'etl-x7k2p-head-q9z' },
        lastTimestamp: '2026-01-01T00:00:01Z',
      },
    ]);
    world.ray.jobs.get('etl')!.log.push(...TRACEBACK);
    soon(() => world.kube.endRayJob('kind-dev', 'default', 'etl', 'FAILED'));
    const res = await client.callTool({
      name: 'wait_for_ray_job',
      arguments: { rayjob: 'etl', timeout_seconds: 5 },
    });
    expect(res.structuredContent).toMatchObject({
      ended: true,
      status: 'FAILED',
      events: [expect.objectContaining({ reason: 'OOMKilled', object: 'Pod/etl-x7k2p-head-q9z' })],
      failure: { cause: 'kubernetes_event' },
    });
    expect(textOf(res)).toMatch(/Event: OOMKilled on Pod\/etl-x7k2p-head-q9z/);
    const logs = await client.callTool({ name: 'retrieve_logs', arguments: { rayjob: 'etl' } });
    expect(logs.structuredContent).toMatchObject({
      status: 'FAILED',
      failure: { cause: 'missing_module' },
      events: [expect.objectContaining({ reason: 'OOMKilled' })],
    });
    expect(textOf(logs)).toMatch(/Event: OOMKilled on Pod\/etl-x7k2p-head-q9z/);
  });

  it('refuses a zero timeout, a missing id and an unknown job', async () => {
    const { client } = await withCluster();
    await refused(
      client,
      'wait_for_ray_job',
      { submission_id: 'x', timeout_seconds: 0 },
      invalidArg('timeout_seconds'),
    );
    await refused(client, 'wait_for_ray_job', {}, /Which job\? submission_id is missing/);
    await refused(client, 'wait_for_ray_job', { submission_id: 'nope' }, /No job nope/);
  });
});

describe('retrieve_logs', () => {
  it('returns the last lines, pages back with older_cursor and forward with newer_cursor', async () => {
    const { client, world, url } = await withCluster();
    const job = world.ray.addJob(url, 'log-1', 'RUNNING', {
      log: Array.from({ length: 10 }, (_, i) => `line ${i + 1}`),
    });
    const last = await ok(client, 'retrieve_logs', { submission_id: 'log-1', lines: 3 });
    expect(last).toMatchObject({
      submission_id: 'log-1',
      cluster_id: 'local-1',
      status: 'RUNNING',
      untrusted: true,
      lines: 3,
      log: 'line 8\nline 9\nline 10',
    });
    const older = await ok(client, 'retrieve_logs', {
      submission_id: 'log-1',
      lines: 3,
      cursor: last.older_cursor,
    });
    expect(older.log).toBe('line 5\nline 6\nline 7');
    job.log.push('line 11');
    const newer = await ok(client, 'retrieve_logs', { submission_id: 'log-1', cursor: last.newer_cursor });
    expect(newer.log).toBe('line 11');
  });

  it('caps a page at max_bytes and says it did', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'big', 'RUNNING', {
      log: Array.from({ length: 20 }, (_, i) => `${i}:${'x'.repeat(200)}`),
    });
    const r = await ok(client, 'retrieve_logs', { submission_id: 'big', lines: 20, max_bytes: 1024 });
    expect(r.truncated).toBe(true);
    expect(r.lines).toBeLessThan(20);
    expect(r.log.length).toBeLessThanOrEqual(1024);
    expect(r.log).toContain('19:');
  });

  it('strips terminal escapes, wraps the log as untrusted, and adds the analysis of a failed job', async () => {
    const { client, world, url } = await withCluster();
    world.ray.addJob(url, 'log-2', 'FAILED', { log: ['\x1b[31mred\x1b[0m text\x07', ...TRACEBACK] });
    const res = await client.callTool({
      name: 'retrieve_logs',
      arguments: { identity: 'log-2', num_lines: 50 },
    });
    const r = res.structuredContent as Result;
    expect(r.log).toContain('red text');
    expect(r.log).not.toContain('\x1b');
    expect(r.log).not.toContain('\x07');
    expect(r.failure).toMatchObject({ cause: 'missing_module', missing_module: 'torch' });
    expect(textOf(res)).toMatch(/<<<job-log[\s\S]*job-log>>>/);
  });

  it('reads the Ray job of a RayJob through its cluster', async () => {
    const { client, world } = await withKube();
    await submitRayJob({ client, world });
    world.ray.jobs.get('etl')!.log.push('etl step 1');
    const r = await ok(client, 'retrieve_logs', { rayjob: 'etl' });
    expect(r).toMatchObject({ submission_id: 'etl', cluster_id: 'etl-x7k2p', status: 'RUNNING' });
    expect(r.log).toContain('etl step 1');
  });

  it('refuses a RayJob together with a job, a missing id and too many lines', async () => {
    const { client } = await withCluster();
    await refused(
      client,
      'retrieve_logs',
      { rayjob: 'etl', submission_id: 'x' },
      /Pass rayjob, or cluster_id and submission_id, not both/,
    );
    await refused(client, 'retrieve_logs', {}, /Which job\? submission_id is missing/);
    await refused(client, 'retrieve_logs', { submission_id: 'x', lines: 5000 }, invalidArg('lines'));
    await refused(client, 'retrieve_logs', { submission_id: 'nope' }, /No job nope/);
  });
});

describe('inspect_ray_job: dead actors', () => {
  it("joins Ray's record of the job's dead actors with its log", async () => {
    const { client, world, url } = await withCluster();
    const job = world.ray.addJob(url, 'actor-1', 'RUNNING', { entrypoint: 'python actors.py' });
    job.details.job_id = '05000000';
    world.ray.failures.set('05000000', {
      tasks: [],
      actors: [
        {
          actor_id: 'ab12',
          class_name: 'Trainer',
          state: 'DEAD',
          job_id: '05000000',
          pid: 777,
          death_cause: { actor_died_error_context: { reason: 'WORKER_DIED', error_message: 'exit code 1' } },
        },
      ],
      totalTasks: 0,
      totalActors: 1,
    });
    world.ray.endJob('actor-1', 'FAILED', { log: ['ray.exceptions.ActorDiedError: The actor died'] });
    const res = await client.callTool({ name: 'inspect_ray_job', arguments: { submission_id: 'actor-1' } });
    expect(res.structuredContent).toMatchObject({
      failure: { cause: 'actor_died', dead_actors: [{ class_name: 'Trainer', death_cause: 'WORKER_DIED' }] },
    });
    expect(textOf(res)).toMatch(/Ray's record \(untrusted\): actor Trainer \(pid 777\) died: WORKER_DIED/);
    await refused(client, 'inspect_ray_job', { submission_id: 'nope-1' }, /No job nope-1/);
  });
});
