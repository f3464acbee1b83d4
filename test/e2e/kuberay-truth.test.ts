/**
 * Every answer true, on the real test bed (real API server, real KubeRay operator, kwok pods):
 * diagnoses that name the real cause (no ready endpoint behind the service proxy, a Kubernetes RBAC
 * denial that is not a Ray token refusal, forbidden reads that are not absent), and state that
 * stays the world's (a failed start leaves nothing and never becomes current, untracked is not
 * stopped, a restart keeps what ray-mcp created, one source of counts, bounds that follow a scale,
 * one RayJob id, an idempotent stop that says what it found).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, LIMITED_USER, useTestbed } from '../helpers/testbed.js';

const OWN = 'truth-b';
const LIMITED_NS = 'truth-a';

let bed: TestbedState;
let server: StdioServer;
const started: StdioServer[] = [];

interface View {
  cluster_id: string;
  status: string;
  owned: boolean;
  created_at: string;
  kubernetes: {
    namespace: string;
    name: string;
    desired_workers: number;
    ready_workers: number;
    worker_groups: { group_name: string; replicas: number; max_replicas: number; ready: number }[];
  };
}
interface Row {
  cluster_id: string;
  status: string;
  tracked?: boolean;
  owned?: boolean;
  created_at: string;
}

const rc = (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayclusters/${name}`;

async function start(env: Record<string, string> = {}): Promise<StdioServer> {
  const s = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig, ...env } });
  started.push(s);
  return s;
}

async function stopQuietly(s: StdioServer, id: string) {
  await s.client
    .callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: id } }, { timeout: 200_000 })
    .catch(() => undefined);
}

beforeAll(async () => {
  bed = await useTestbed();
  for (const ns of [OWN, LIMITED_NS]) {
    await apply(bed, `/api/v1/namespaces/${ns}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
  }
  // The limited user may run Ray in truth-a, but not reach dashboards through the service proxy
  // (no services/proxy), list nodes or CRDs, or read the default namespace.
  await apply(bed, `/apis/rbac.authorization.k8s.io/v1/namespaces/${LIMITED_NS}/roles/ray`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'ray', namespace: LIMITED_NS },
    rules: [
      { apiGroups: ['ray.io'], resources: ['rayclusters', 'rayjobs'], verbs: ['*'] },
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  await apply(bed, `/apis/rbac.authorization.k8s.io/v1/namespaces/${LIMITED_NS}/rolebindings/ray`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ray', namespace: LIMITED_NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ray' },
    subjects: [{ kind: 'User', name: LIMITED_USER, apiGroup: 'rbac.authorization.k8s.io' }],
  });
  server = await start();
}, 300_000);

afterAll(async () => {
  for (const s of started) await s.close().catch(() => undefined);
});

describe('diagnoses that name the real cause', () => {
  afterAll(async () => {
    await stopQuietly(server, 'tr-noep');
  }, 300_000);

  it('a dashboard behind the service proxy whose head Service has no ready endpoint is "not reachable yet"', async () => {
    await callOk(server.client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'tr-noep',
      namespace: OWN,
      timeout_seconds: 120,
    });
    // The test bed runs no endpoint controllers: the head Service never gets a ready endpoint.
    const res = await server.client.callTool(
      { name: 'list_ray_jobs', arguments: { cluster_id: 'tr-noep' } },

      { timeout: 60_000 },
    );
    expect(res.isError).toBe(true);
    const text = textOf(res);
    expect(text).toMatch(/not reachable yet: no ready endpoint for the head service/);
    expect(text).toMatch(/tr-noep-head-svc/);
    expect(text).not.toMatch(/Check the cluster with inspect_ray_cluster/);
  }, 240_000);

  it('a bad node_type on a KubeRay cluster is reported as a node type, not as a missing worker group', async () => {
    const res = await server.client.callTool({
      name: 'scale_ray_cluster',
      arguments: { cluster_id: 'tr-noep', node_type: 'gpux', workers: 1 },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/node_type gpux is not a node type of RayCluster truth-b\/tr-noep/);
    expect(textOf(res)).not.toMatch(/has no worker group gpux/);
  });

  describe('for a user with limited rights', () => {
    let limited: StdioServer;
    beforeAll(async () => {
      limited = await start();
    });
    afterAll(async () => {
      await stopQuietly(limited, 'tr-lim');
    }, 300_000);

    it('connect does not say "Connected" while the watches of its namespace are forbidden', async () => {
      const res = await limited.client.callTool(
        { name: 'connect_kubernetes_cluster', arguments: { context: 'testbed-limited' } },

        { timeout: 120_000 },
      );
      expect(res.isError, textOf(res)).toBeFalsy();
      const text = textOf(res);
      expect(text).not.toMatch(/^Connected/);
      expect(text).toMatch(/watches of namespace default fail/);
      expect(text).toMatch(/cannot list resource "pods"/);
      expect((res.structuredContent as { watch_errors?: string[] }).watch_errors?.length).toBeGreaterThan(0);
    }, 150_000);

    it('cluster info says what it could not read and why: forbidden is not absent', async () => {
      const res = await limited.client.callTool(
        { name: 'get_kubernetes_cluster_info', arguments: { context: 'testbed-limited' } },

        { timeout: 120_000 },
      );
      expect(res.isError, textOf(res)).toBeFalsy();
      const text = textOf(res);
      // The CRDs are there (API discovery says so), though the user may not list them.
      expect(text).not.toMatch(/CRDs not installed/);
      expect(text).toMatch(/KubeRay CRDs installed/);
      expect(text).not.toMatch(/0\/0 node\(s\) ready/);
      expect(text).toMatch(/Could not read:.*nodes: forbidden[^;]*cannot list resource "nodes"/);
      const k = (res.structuredContent as { kubernetes: { unreadable?: string[]; problems: string[] } })
        .kubernetes;
      expect(k.unreadable).toEqual(expect.arrayContaining([expect.stringMatching(/^nodes: forbidden/)]));
      expect(k.problems.some((p) => /nodes/.test(p))).toBe(true);
    }, 150_000);

    it('list_kuberay_jobs on a forbidden namespace answers at once, with the whole message', async () => {
      const first = await limited.client.callTool({
        name: 'list_kuberay_jobs',
        arguments: { namespace: 'default', kubernetes_context: 'testbed-limited' },
      });
      expect(first.isError).toBe(true);
      expect(textOf(first)).toMatch(
        /cannot list resource "rayjobs" in API group "ray\.io" in the namespace "default"/,
      );
      // By now the informer retries after several seconds; the answer must not wait for that retry.
      await new Promise((r) => setTimeout(r, 8000));
      const t0 = Date.now();
      const second = await limited.client.callTool({
        name: 'list_kuberay_jobs',
        arguments: { namespace: 'default', kubernetes_context: 'testbed-limited' },
      });
      const waited = Date.now() - t0;
      expect(second.isError).toBe(true);
      expect(textOf(second)).toMatch(/in the namespace "default"/);
      expect(waited).toBeLessThan(4000);
    }, 120_000);

    it('a Kubernetes RBAC denial on services/proxy is told apart from a Ray token refusal', async () => {
      await callOk(limited.client, 'init_ray_cluster', {
        cluster_type: 'kubernetes',
        cluster_name: 'tr-lim',
        namespace: LIMITED_NS,
        kubernetes_context: 'testbed-limited',
        timeout_seconds: 120,
      });
      const res = await limited.client.callTool({
        name: 'list_ray_jobs',
        arguments: { cluster_id: 'tr-lim' },
      });
      expect(res.isError).toBe(true);
      const text = textOf(res);
      expect(text).toMatch(/Kubernetes RBAC lacks get on services\/proxy in namespace truth-a/);
      expect(text).not.toMatch(/RAY_AUTH_TOKEN|token authentication/);
    }, 240_000);
  });
});

describe('state that stays the world', () => {
  it('a failed init leaves nothing, never becomes current, and its name can be used again', async () => {
    const s = await start();
    try {
      const failed = await s.client.callTool(
        {
          name: 'init_ray_cluster',
          arguments: {
            cluster_type: 'kubernetes',
            cluster_name: 'tr-fail',
            namespace: 'no-such-ns',
            timeout_seconds: 30,
          },
        },

        { timeout: 120_000 },
      );
      expect(failed.isError).toBe(true);
      expect(textOf(failed)).toMatch(/no-such-ns/);
      const list = await callOk<{ clusters: Row[]; current?: string }>(s.client, 'list_ray_clusters');
      expect(list.clusters.map((c) => c.cluster_id)).not.toContain('tr-fail');
      expect(list.current).toBeUndefined();
      const stop = await s.client.callTool({ name: 'stop_ray_cluster', arguments: {} });
      expect(textOf(stop)).not.toMatch(/no-such-ns/);
      expect(textOf(stop)).toMatch(/no current cluster/i);
      const again = await callOk<View>(s.client, 'init_ray_cluster', {
        cluster_type: 'kubernetes',
        cluster_name: 'tr-fail',
        namespace: OWN,
        timeout_seconds: 120,
      });
      expect(again).toMatchObject({ cluster_id: 'tr-fail', status: 'running' });
    } finally {
      await stopQuietly(s, 'tr-fail');
    }
  }, 400_000);

  it('counts agree, a scale past the bound ray-mcp chose raises it, and a second stop says "already gone"', async () => {
    const up = await callOk<View>(server.client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'tr-count',
      namespace: OWN,
      worker_node_specs: [{ group_name: 'cpu', replicas: 1 }],
      timeout_seconds: 120,
    });
    const groupsReady = (v: View) => v.kubernetes.worker_groups.reduce((n, g) => n + g.ready, 0);
    expect(up.kubernetes.ready_workers).toBe(groupsReady(up));
    expect(up.kubernetes.ready_workers).toBe(1);
    expect(up.kubernetes.desired_workers).toBe(1);

    // max_replicas was not given: "scale the workers to 2" is not refused.
    const scaled = await callOk<View>(server.client, 'scale_ray_cluster', {
      cluster_id: 'tr-count',
      worker_group: 'cpu',
      workers: 2,
    });
    expect(scaled.kubernetes.worker_groups).toEqual([
      expect.objectContaining({ group_name: 'cpu', replicas: 2, max_replicas: 2, ready: 2 }),
    ]);
    expect(scaled.kubernetes.ready_workers).toBe(2);
    expect(scaled.kubernetes.desired_workers).toBe(2);
    // A bound the user sets holds.
    await callOk(server.client, 'scale_ray_cluster', {
      cluster_id: 'tr-count',
      worker_group: 'cpu',
      max_replicas: 2,
    });
    const over = await server.client.callTool({
      name: 'scale_ray_cluster',
      arguments: { cluster_id: 'tr-count', worker_group: 'cpu', workers: 3 },
    });
    expect(over.isError).toBe(true);
    expect(textOf(over)).toMatch(/outside min_replicas 0 \.\. max_replicas 2/);

    const first = await server.client.callTool(
      { name: 'stop_ray_cluster', arguments: { cluster_id: 'tr-count' } },

      { timeout: 200_000 },
    );
    expect(textOf(first)).toMatch(/Deleted RayCluster truth-b\/tr-count/);
    const second = await server.client.callTool(
      { name: 'stop_ray_cluster', arguments: { cluster_id: 'tr-count' } },

      { timeout: 200_000 },
    );
    expect(second.isError).toBeFalsy();
    expect(textOf(second)).toMatch(/already gone/);
    expect(textOf(second)).not.toMatch(/Deleted/);
  }, 400_000);

  it('after "Stopped tracking" a RayCluster it did not create is listed untracked, and keeps its created_at', async () => {
    await apply(bed, rc(OWN, 'tr-foreign'), {
      apiVersion: 'ray.io/v1',
      kind: 'RayCluster',
      metadata: { name: 'tr-foreign', namespace: OWN },
      spec: {
        rayVersion: '2.60.0',
        headGroupSpec: {
          rayStartParams: {},
          template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.60.0' }] } },
        },
        workerGroupSpecs: [],
      },
    });
    const created = (await kubeRequest(bed, 'GET', rc(OWN, 'tr-foreign'))).json.metadata
      .creationTimestamp as string;
    const s = await start();
    try {
      await callOk(s.client, 'connect_kubernetes_cluster', {});
      const attached = await waitFor(
        'tr-foreign running',
        async () => {
          const v = await s.client.callTool({
            name: 'inspect_ray_cluster',
            arguments: { cluster_id: 'tr-foreign' },
          });
          const view = v.structuredContent as unknown as View | undefined;
          return !v.isError && view?.status === 'running' && view;
        },
        90_000,
        500,
      );
      expect(Date.parse(attached.created_at)).toBe(Date.parse(created));
      const forgot = await s.client.callTool({ name: 'stop_ray_cluster', arguments: {} });
      expect(textOf(forgot)).toMatch(/Stopped tracking RayCluster truth-b\/tr-foreign/);
      const list = await callOk<{ clusters: Row[] }>(s.client, 'list_ray_clusters', { namespace: OWN });
      const row = list.clusters.filter((c) => c.cluster_id === 'tr-foreign');
      expect(row).toEqual([expect.objectContaining({ tracked: false, owned: false, status: 'running' })]);
      const again = await callOk<View>(s.client, 'inspect_ray_cluster', { cluster_id: 'tr-foreign' });
      expect(Date.parse(again.created_at)).toBe(Date.parse(created));
    } finally {
      await kubeRequest(bed, 'DELETE', rc(OWN, 'tr-foreign'));
    }
  }, 240_000);

  it('a restart with the default exit policy keeps the RayClusters ray-mcp created: adopted, tracked, current', async () => {
    const dataDir = scratchDir('data');
    const first = await start({ RAY_MCP_DATA_DIR: dataDir });
    await callOk(first.client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'tr-keep',
      namespace: OWN,
      timeout_seconds: 120,
    });
    await first.close();
    const second = await start({ RAY_MCP_DATA_DIR: dataDir });
    try {
      const list = await waitFor(
        'tr-keep adopted and running',
        async () => {
          const l = await callOk<{ clusters: Row[]; current?: string }>(second.client, 'list_ray_clusters');
          const row = l.clusters.find((c) => c.cluster_id === 'tr-keep');
          return row?.status === 'running' && l;
        },
        90_000,
        500,
      );
      expect(list.clusters.find((c) => c.cluster_id === 'tr-keep')).toMatchObject({
        tracked: true,
        owned: true,
      });
      expect(list.current).toBe('tr-keep');
    } finally {
      await stopQuietly(second, 'tr-keep');
    }
  }, 300_000);

  it("a RayJob's ids are the same in submit, inspect and wait", async () => {
    const sub = await callOk<{ submission_id: string; cluster_id: string }>(server.client, 'submit_ray_job', {
      job_type: 'rayjob',
      rayjob: 'tr-probe',
      namespace: OWN,
      entrypoint: 'python -c "print(1)"',
    });
    try {
      expect(sub.submission_id).toBe('tr-probe');
      expect(sub.cluster_id).toMatch(/^tr-probe-/);
      const seen = await waitFor(
        'the RayJob running',
        async () => {
          const v = await callOk<{
            submission_id: string;
            cluster_id: string;
            rayjob: { deployment_status?: string };
          }>(server.client, 'inspect_ray_job', { rayjob: 'tr-probe', namespace: OWN });
          return v.rayjob.deployment_status === 'Running' && v;
        },
        90_000,
        500,
      );
      expect({ submission_id: seen.submission_id, cluster_id: seen.cluster_id }).toEqual({
        submission_id: sub.submission_id,
        cluster_id: sub.cluster_id,
      });
    } finally {
      await server.client
        .callTool({
          name: 'cancel_ray_job',
          arguments: { rayjob: 'tr-probe', namespace: OWN, mode: 'delete' },
        })
        .catch(() => undefined);
    }
  }, 240_000);
});
