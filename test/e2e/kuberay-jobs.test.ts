/**
 * Jobs on KubeRay against the real test bed.
 *
 * Through the dashboard: kwok's pods run no containers, so a real local Ray cluster stands in for
 * the head pod's container. The head pod's IP (kwok hands it out from the test bed's pod range)
 * goes on the loopback device, a byte-for-byte TCP relay listens there, and an Endpoints object
 * points the head service at it. The job tools then go ray-mcp → kube-apiserver's service proxy
 * → relay → the real dashboard, with token auth on: the token has to pass the proxy.
 *
 * RayJob custom resources: the real kuberay-operator reconciles what ray-mcp applies; submit,
 * list, inspect, wait, suspend, stop and delete (only when asked), and bad inputs.
 */
import { execFileSync } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import { callOk, type StdioServer, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, useTestbed } from '../helpers/testbed.js';

const NS = 'ray-jobs';
const TOKEN = `kr${Math.random().toString(16).slice(2).padEnd(30, '7')}`;

let bed: TestbedState;
let server: StdioServer;

interface RayJobRef {
  name: string;
  namespace: string;
  context: string;
  deployment_status?: string;
  ray_cluster?: string;
  cluster_selector?: string;
  owned: boolean;
  suspended: boolean;
  deleting: boolean;
  uri: string;
}
interface JobResult {
  submission_id: string;
  status: string;
  cluster_id: string;
  existed?: boolean;
  rayjob?: RayJobRef;
  ended?: boolean;
  already_ended?: boolean;
  mode?: string;
}

const rayJobPath = (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayjobs/${name}`;

beforeAll(async () => {
  bed = await useTestbed();
  for (const ns of [NS, 'other-team']) {
    await apply(bed, `/api/v1/namespaces/${ns}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
  }
  server = await startStdioServer({
    env: { KUBECONFIG: bed.kubeconfig, RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: TOKEN },
  });
});

afterAll(async () => {
  await server?.close();
});

/** Puts an address on lo for the test: 'added', 'present' (someone else's), or false (not root). */
function addLoopbackAddress(ip: string): 'added' | 'present' | false {
  try {
    execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
    return 'added';
  } catch (err) {
    if (/File exists/.test(String((err as { stderr?: Buffer }).stderr ?? ''))) return 'present';
    return false;
  }
}

function removeLoopbackAddress(ip: string) {
  try {
    execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch {}
}

/** A TCP relay on ip (any free port): every byte to 127.0.0.1:target and back. No HTTP is parsed. */
async function relay(
  ip: string,
  target: number,
): Promise<{ server: Server; sockets: Set<Socket>; port: number }> {
  const sockets = new Set<Socket>();
  const srv = createServer((inbound) => {
    const outbound = createConnection({ host: '127.0.0.1', port: target });
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close).on('close', close);
    outbound.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, ip, resolve));
  return { server: srv, sockets, port: (srv.address() as { port: number }).port };
}

describe('jobs on a KubeRay cluster through the API server service proxy', () => {
  let headIp = '';
  let standIn: { server: Server; sockets: Set<Socket>; port: number } | undefined;
  let canBind = false;
  let added = false;

  beforeAll(async () => {
    const local = await callOk<{ dashboard_url: string }>(server.client, 'init_ray_cluster', {
      cluster_name: 'stand-in',
      num_cpus: 1,
    });
    const dashPort = Number(new URL(local.dashboard_url).port);
    const kr = await callOk<{ nodes: { name: string; node_type: string; address?: string }[] }>(
      server.client,
      'init_ray_cluster',
      { cluster_type: 'kubernetes', cluster_name: 'kr-jobs', namespace: NS, timeout_seconds: 120 },
    );
    const head = kr.nodes.find((n) => n.node_type === 'head')!;
    headIp = head.address!;
    expect(headIp).toMatch(/^10\.213\.0\.\d+$/);
    const lo = addLoopbackAddress(headIp);
    canBind = lo !== false;
    added = lo === 'added';
    if (!canBind) return;
    standIn = await relay(headIp, dashPort);
    await apply(bed, `/api/v1/namespaces/${NS}/endpoints/kr-jobs-head-svc`, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kr-jobs-head-svc', namespace: NS },
      subsets: [
        {
          addresses: [{ ip: headIp, targetRef: { kind: 'Pod', namespace: NS, name: head.name } }],
          ports: [{ name: 'dashboard', port: standIn.port, protocol: 'TCP' }],
        },
      ],
    });
  }, 300_000);

  afterAll(async () => {
    for (const s of standIn?.sockets ?? []) s.destroy();
    await new Promise<void>((r) => (standIn ? standIn.server.close(() => r()) : r()));
    if (added) removeLoopbackAddress(headIp);
    await server.client.callTool(
      { name: 'stop_ray_cluster', arguments: { cluster_id: 'kr-jobs' } },
      { timeout: 120_000 },
    );
    await server.client.callTool(
      { name: 'stop_ray_cluster', arguments: { cluster_id: 'stand-in' } },
      { timeout: 120_000 },
    );
  }, 300_000);

  it('submits, waits, reads logs, lists, inspects and cancels, with the Ray token passing the proxy', async (ctx) => {
    if (!canBind) ctx.skip('putting a pod IP on lo needs root (CAP_NET_ADMIN)');
    // The dashboard behind the proxy really asks for the token.
    const bare = await kubeRequest(
      bed,
      'GET',
      `/api/v1/namespaces/${NS}/services/kr-jobs-head-svc:dashboard/proxy/api/jobs/`,
    );
    expect(bare.status).toBe(401);

    const progress: string[] = [];
    const sub = await callOk<JobResult>(server.client, 'submit_ray_job', {
      cluster_id: 'kr-jobs',
      entrypoint: `python -c "print('hello from kuberay'); print('line two')"`,
      submission_id: 'kr-hello',
    });
    expect(sub).toMatchObject({ submission_id: 'kr-hello', cluster_id: 'kr-jobs', existed: false });
    const waited = await server.client.callTool(
      {
        name: 'wait_for_ray_job',
        arguments: { cluster_id: 'kr-jobs', submission_id: 'kr-hello', timeout_seconds: 120 },
      },
      { timeout: 180_000, onprogress: (p) => progress.push(String(p.message)) },
    );
    expect(waited.isError, textOf(waited)).toBeFalsy();
    expect(waited.structuredContent).toMatchObject({ status: 'SUCCEEDED', ended: true });
    expect(progress.length).toBeGreaterThan(0);

    const logs = await callOk<{ log: string }>(server.client, 'retrieve_logs', {
      cluster_id: 'kr-jobs',
      submission_id: 'kr-hello',
    });
    expect(logs.log).toContain('hello from kuberay');

    const list = await callOk<{ jobs: { submission_id: string }[] }>(server.client, 'list_ray_jobs', {
      cluster_id: 'kr-jobs',
    });
    expect(list.jobs.map((j) => j.submission_id)).toContain('kr-hello');
    const inspected = await callOk<JobResult>(server.client, 'inspect_ray_job', {
      cluster_id: 'kr-jobs',
      submission_id: 'kr-hello',
    });
    expect(inspected.status).toBe('SUCCEEDED');

    await callOk(server.client, 'submit_ray_job', {
      cluster_id: 'kr-jobs',
      entrypoint: 'python -c "import time; time.sleep(600)"',
      submission_id: 'kr-sleep',
    });
    const cancelled = await callOk<JobResult>(server.client, 'cancel_ray_job', {
      cluster_id: 'kr-jobs',
      submission_id: 'kr-sleep',
    });
    expect(cancelled.status).toBe('STOPPED');
    // Nothing of the token in what the model sees.
    expect(JSON.stringify([sub, waited, logs, list, inspected, cancelled])).not.toContain(TOKEN);
  });

  it("reads a RayJob's logs and stops its Ray job through its cluster's dashboard", async (ctx) => {
    if (!canBind) ctx.skip('putting a pod IP on lo needs root (CAP_NET_ADMIN)');
    const rj = await callOk<JobResult>(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      cluster_id: 'kr-jobs',
      rayjob: 'on-kr',
      submission_id: 'rj-on-kr',
      entrypoint: `python -c "import time; print('rayjob says hi', flush=True); time.sleep(600)"`,
    });
    expect(rj.rayjob).toMatchObject({ cluster_selector: 'kr-jobs', namespace: NS });
    // kwok runs no submitter pod, so this does what KubeRay's submitter would: submit the RayJob's
    // entrypoint under its jobId to the cluster's dashboard.
    await callOk(server.client, 'submit_ray_job', {
      cluster_id: 'kr-jobs',
      submission_id: 'rj-on-kr',
      entrypoint: `python -c "import time; print('rayjob says hi', flush=True); time.sleep(600)"`,
    });
    const logs = await waitFor(
      'the RayJob log',
      async () => {
        // Until Ray knows the driver's node, its log API has nothing to say.
        const r = await callOk<{ log: string; cluster_id: string; submission_id: string }>(
          server.client,
          'retrieve_logs',
          { rayjob: 'on-kr', namespace: NS },
        ).catch(() => undefined);
        return r?.log.includes('rayjob says hi') ? r : undefined;
      },
      60_000,
      500,
    );
    expect(logs).toMatchObject({ cluster_id: 'kr-jobs', submission_id: 'rj-on-kr' });

    const stopped = await callOk<JobResult>(server.client, 'cancel_ray_job', {
      rayjob: 'on-kr',
      namespace: NS,
    });
    expect(stopped.mode).toBe('stop');
    const ray = await waitFor(
      'the Ray job stopped',
      async () => {
        const r = await callOk<JobResult>(server.client, 'inspect_ray_job', {
          cluster_id: 'kr-jobs',
          submission_id: 'rj-on-kr',
        });
        return r.status === 'STOPPED' ? r : undefined;
      },
      30_000,
      500,
    );
    expect(ray.status).toBe('STOPPED');
    await callOk(server.client, 'cancel_ray_job', { rayjob: 'on-kr', namespace: NS, mode: 'delete' });
    await waitFor(
      'on-kr deleted',
      async () => (await kubeRequest(bed, 'GET', rayJobPath(NS, 'on-kr'))).status === 404,
      60_000,
      500,
    );
  });
});

describe('RayJob custom resources', () => {
  it('submits a RayJob with its own cluster, idempotently, and KubeRay reconciles it', async () => {
    const sub = await callOk<JobResult>(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      rayjob: 'train-a',
      namespace: NS,
      entrypoint: 'python train.py --epochs 3',
      submission_id: 'train-a-1',
      runtime_env: { pip: ['numpy'], env_vars: { EPOCHS: '3' } },
      rayjob_cluster: { worker_node_specs: [{ group_name: 'cpu', replicas: 1, num_cpus: 1 }] },
    });
    expect(sub).toMatchObject({
      submission_id: 'train-a-1',
      existed: false,
      rayjob: { name: 'train-a', namespace: NS, context: 'testbed-admin', owned: true, suspended: false },
    });
    // The bed runs no endpoints controller, and its operator reaches heads through the API server
    // (--use-kubernetes-proxy): for a service without an Endpoints object that proxy answers 404,
    // which KubeRay reads as "no such Ray job" and fails the RayJob once its (kwok) submitter has
    // finished. A real cluster's controller writes one; empty here, as no head serves: 503, retried.
    const rayCluster = await waitFor(
      "the RayJob's cluster name",
      async () => (await kubeRequest(bed, 'GET', rayJobPath(NS, 'train-a'))).json?.status?.rayClusterName,
      60_000,
      100,
    );
    await apply(bed, `/api/v1/namespaces/${NS}/endpoints/${rayCluster}-head-svc`, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: `${rayCluster}-head-svc`, namespace: NS },
      subsets: [],
    });
    const obj = (await kubeRequest(bed, 'GET', rayJobPath(NS, 'train-a'))).json;
    expect(obj.metadata.labels['app.kubernetes.io/managed-by']).toBe('ray-mcp');
    expect(obj.spec).toMatchObject({
      entrypoint: 'python train.py --epochs 3',
      jobId: 'train-a-1',
      shutdownAfterJobFinishes: true,
    });
    expect(JSON.parse(obj.spec.runtimeEnvYAML)).toEqual({ pip: ['numpy'], env_vars: { EPOCHS: '3' } });
    expect(obj.spec.rayClusterSpec.workerGroupSpecs[0].groupName).toBe('cpu');

    const again = await callOk<JobResult>(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      rayjob: 'train-a',
      namespace: NS,
      entrypoint: 'python train.py --epochs 3',
    });
    expect(again.existed).toBe(true);

    // The operator makes the RayJob's cluster; ray-mcp sees it through its watch.
    const seen = await waitFor(
      'the RayJob cluster and status',
      async () => {
        const r = await callOk<JobResult>(server.client, 'inspect_ray_job', {
          rayjob: 'train-a',
          namespace: NS,
        });
        return r.rayjob?.ray_cluster && r.rayjob.deployment_status ? r : undefined;
      },
      90_000,
      500,
    );
    expect(seen.rayjob!.ray_cluster).toMatch(/^train-a-/);
    expect(seen.cluster_id).toBe(seen.rayjob!.ray_cluster);
  });

  it('lists RayJobs of a namespace and of all namespaces, marking those it did not create', async () => {
    await apply(bed, rayJobPath('other-team', 'theirs'), {
      apiVersion: 'ray.io/v1',
      kind: 'RayJob',
      metadata: { name: 'theirs', namespace: 'other-team' },
      spec: { entrypoint: 'python theirs.py', clusterSelector: { 'ray.io/cluster': 'nowhere' } },
    });
    const mine = await callOk<{
      namespace: string;
      context: string;
      rayjobs: { name: string; owned: boolean }[];
    }>(server.client, 'list_kuberay_jobs', { namespace: NS });
    expect(mine).toMatchObject({ namespace: NS, context: 'testbed-admin' });
    expect(mine.rayjobs.map((r) => r.name)).toEqual(['train-a']);
    const all = await waitFor(
      'the foreign RayJob in the list',
      async () => {
        const r = await callOk<{ rayjobs: { name: string; namespace: string; owned: boolean }[] }>(
          server.client,
          'list_kuberay_jobs',
          { all_namespaces: true },
        );
        return r.rayjobs.some((j) => j.name === 'theirs') ? r : undefined;
      },
      30_000,
      500,
    );
    expect(all.rayjobs.find((j) => j.name === 'theirs')).toMatchObject({
      namespace: 'other-team',
      owned: false,
    });
    const page = await callOk<{ rayjobs: unknown[]; next_cursor?: string; total: number }>(
      server.client,
      'list_kuberay_jobs',
      { all_namespaces: true, limit: 1 },
    );
    expect(page.rayjobs).toHaveLength(1);
    expect(page.next_cursor).toBe('o:1');
    const theirs = await callOk<JobResult>(server.client, 'inspect_ray_job', {
      rayjob: 'theirs',
      namespace: 'other-team',
    });
    expect(theirs.rayjob).toMatchObject({ owned: false, cluster_selector: 'nowhere' });
  });

  it('waits with a timeout that is not an error, then suspends the RayJob without deleting it', async () => {
    const waited = await callOk<JobResult>(server.client, 'wait_for_ray_job', {
      rayjob: 'train-a',
      namespace: NS,
      timeout_seconds: 2,
    });
    expect(waited.ended).toBe(false);

    // A long session subscribes to the RayJob's resource and hears when KubeRay suspends it.
    const uri = waited.rayjob!.uri;
    expect(uri).toBe(`ray://kubernetes/testbed-admin/namespaces/${NS}/rayjobs/train-a`);
    const updates: string[] = [];
    server.client.setNotificationHandler('notifications/resources/updated', (n) => {
      updates.push(n.params.uri);
    });
    await server.client.subscribeResource({ uri });
    const read = async () =>
      JSON.parse(
        ((await server.client.readResource({ uri })).contents[0] as { text: string }).text,
      ) as JobResult;
    expect((await read()).rayjob).toMatchObject({ name: 'train-a', suspended: false });

    const cancelled = await callOk<JobResult>(server.client, 'cancel_ray_job', {
      rayjob: 'train-a',
      namespace: NS,
    });
    expect(cancelled.mode).toBe('suspend');
    await waitFor('the resource update', () => updates.includes(uri), 30_000, 100);
    await waitFor(
      'Suspended in the resource',
      async () => (await read()).rayjob?.deployment_status === 'Suspended',
      30_000,
      200,
    );
    await server.client.unsubscribeResource({ uri });
    expect(cancelled.already_ended).toBe(false);
    const suspended = await waitFor(
      'Suspended',
      async () => {
        const r = await callOk<JobResult>(server.client, 'inspect_ray_job', {
          rayjob: 'train-a',
          namespace: NS,
        });
        return r.rayjob?.deployment_status === 'Suspended' ? r : undefined;
      },
      60_000,
      500,
    );
    expect(suspended.rayjob!.suspended).toBe(true);
    expect(suspended.status).toBe('STOPPED');
    // Still there: suspending is not deleting.
    expect((await kubeRequest(bed, 'GET', rayJobPath(NS, 'train-a'))).status).toBe(200);

    const twice = await callOk<JobResult>(server.client, 'cancel_ray_job', {
      rayjob: 'train-a',
      namespace: NS,
    });
    expect(twice.already_ended).toBe(true);
  });

  it('runs a RayJob on an existing KubeRay cluster, refuses to suspend it, and deletes it only when asked', async () => {
    await callOk(server.client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'shared',
      namespace: NS,
      timeout_seconds: 120,
    });
    try {
      const sub = await callOk<JobResult>(server.client, 'submit_ray_job', {
        job_type: 'rayjob',
        cluster_id: 'shared',
        rayjob: 'on-shared',
        entrypoint: 'python eval.py',
      });
      expect(sub.rayjob).toMatchObject({
        cluster_selector: 'shared',
        shutdown_after_job_finishes: false,
        namespace: NS,
      });
      const obj = (await kubeRequest(bed, 'GET', rayJobPath(NS, 'on-shared'))).json;
      expect(obj.spec.clusterSelector).toEqual({ 'ray.io/cluster': 'shared' });
      expect(obj.spec.rayClusterSpec).toBeUndefined();

      const suspend = await server.client.callTool({
        name: 'cancel_ray_job',
        arguments: { rayjob: 'on-shared', namespace: NS, mode: 'suspend' },
      });
      expect(suspend.isError).toBe(true);
      expect(textOf(suspend)).toMatch(/cannot suspend it[\s\S]*mode "stop"/);

      const deleted = await callOk<JobResult>(server.client, 'cancel_ray_job', {
        rayjob: 'on-shared',
        namespace: NS,
        mode: 'delete',
      });
      expect(deleted).toMatchObject({ mode: 'delete', rayjob: { deleting: true } });
      await waitFor(
        'on-shared deleted',
        async () => (await kubeRequest(bed, 'GET', rayJobPath(NS, 'on-shared'))).status === 404,
        60_000,
        500,
      );
      const list = await callOk<{ rayjobs: { name: string }[] }>(server.client, 'list_kuberay_jobs', {
        namespace: NS,
      });
      expect(list.rayjobs.map((r) => r.name)).not.toContain('on-shared');
      // The cluster it ran on is untouched.
      expect(
        (await kubeRequest(bed, 'GET', `/apis/ray.io/v1/namespaces/${NS}/rayclusters/shared`)).status,
      ).toBe(200);
    } finally {
      await server.client.callTool(
        { name: 'stop_ray_cluster', arguments: { cluster_id: 'shared' } },
        { timeout: 120_000 },
      );
    }
  });

  it('explains bad inputs: unknown RayJob, a taken name, a local folder, a local cluster, a bad name, no rights', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [
        { rayjob: 'nope', namespace: NS },
        'inspect_ray_job',
        /No RayJob nope in namespace ray-jobs[\s\S]*train-a/,
      ],
      [
        { job_type: 'rayjob', rayjob: 'train-a', namespace: NS, entrypoint: 'python other.py' },
        'submit_ray_job',
        /already exists with another entrypoint/,
      ],
      [
        {
          job_type: 'rayjob',
          namespace: NS,
          entrypoint: 'python x.py',
          runtime_env: { working_dir: '/tmp' },
        },
        'submit_ray_job',
        /cannot take the local folder[\s\S]*remote URI/,
      ],
      [
        { job_type: 'rayjob', cluster_id: 'stand-in', entrypoint: 'python x.py' },
        'submit_ray_job',
        /stand-in is not a KubeRay cluster/,
      ],
      [{ rayjob: 'Bad_Name' }, 'inspect_ray_job', /RayJob name/],
      [{ rayjob: 'train-a', namespace: NS, mode: 'explode' }, 'cancel_ray_job', /mode/],
      [
        { cluster_id: 'kr-jobs', submission_id: 'x', mode: 'delete' },
        'cancel_ray_job',
        /mode is for RayJobs/,
      ],
      [{ entrypoint: 'python x.py', namespace: NS }, 'submit_ray_job', /namespace is for RayJobs/],
    ];
    for (const [args, tool, message] of cases) {
      const r = await server.client.callTool({ name: tool, arguments: args });
      expect(r.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(r)).toMatch(message);
    }

    const limited = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
    try {
      const r = await limited.client.callTool({
        name: 'list_kuberay_jobs',
        arguments: { kubernetes_context: 'testbed-limited', namespace: NS },
      });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/Not allowed on testbed-limited[\s\S]*forbidden/i);
    } finally {
      await limited.close();
    }
  });

  it('deletes its own RayJob when asked, and KubeRay removes what belonged to it', async () => {
    const deleted = await callOk<JobResult>(server.client, 'cancel_ray_job', {
      rayjob: 'train-a',
      namespace: NS,
      mode: 'delete',
    });
    expect(deleted.mode).toBe('delete');
    await waitFor(
      'train-a deleted',
      async () => (await kubeRequest(bed, 'GET', rayJobPath(NS, 'train-a'))).status === 404,
      60_000,
      500,
    );
    // The name is free again once it is gone from ray-mcp's view too.
    await waitFor(
      'train-a gone from the list',
      async () =>
        !(
          await callOk<{ rayjobs: { name: string }[] }>(server.client, 'list_kuberay_jobs', { namespace: NS })
        ).rayjobs.some((r) => r.name === 'train-a'),
      30_000,
      200,
    );
    const again = await callOk<JobResult>(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      rayjob: 'train-a',
      namespace: NS,
      entrypoint: 'python train.py --epochs 1',
    });
    expect(again).toMatchObject({ existed: false, rayjob: { name: 'train-a', owned: true } });
    await callOk(server.client, 'cancel_ray_job', { rayjob: 'train-a', namespace: NS, mode: 'delete' });
  });
});
