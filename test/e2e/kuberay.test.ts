/**
 * KubeRay clusters through the MCP tools against the real test bed: the real kuberay-operator
 * reconciles the RayClusters ray-mcp applies, kwok runs the pods. Start with progress, inspect,
 * list (tracked and not), scale, stop (ours only), namespaces without rights, and watches that
 * recover when the API server restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestbedState } from '../../scripts/testbed.js';
import { callOk, type StdioServer, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';
import { apply, kubeRequest, LIMITED_USER, restartApiserver, useTestbed } from '../helpers/testbed.js';

let bed: TestbedState;
let server: StdioServer;

interface View {
  cluster_id: string;
  status: string;
  owned: boolean;
  dashboard_url?: string;
  nodes: { name: string; node_type: string; alive: boolean; reason?: string }[];
  kubernetes: {
    context: string;
    namespace: string;
    name: string;
    worker_groups: {
      group_name: string;
      replicas: number;
      min_replicas: number;
      max_replicas: number;
      ready: number;
    }[];
  };
  error?: { message: string };
}

const rc = (ns: string, name: string) => `/apis/ray.io/v1/namespaces/${ns}/rayclusters/${name}`;
const podsOf = async (ns: string, cluster: string) =>
  (await kubeRequest(bed, 'GET', `/api/v1/namespaces/${ns}/pods?labelSelector=ray.io/cluster%3D${cluster}`))
    .json.items as {
    metadata: { name: string; labels: Record<string, string> };
  }[];

function foreignCluster(ns: string, name: string) {
  return {
    apiVersion: 'ray.io/v1',
    kind: 'RayCluster',
    metadata: { name, namespace: ns },
    spec: {
      rayVersion: '2.60.0',
      headGroupSpec: {
        rayStartParams: {},
        template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.60.0' }] } },
      },
      workerGroupSpecs: [],
    },
  };
}

beforeAll(async () => {
  bed = await useTestbed();
  for (const ns of ['team-a', 'team-b']) {
    await apply(bed, `/api/v1/namespaces/${ns}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
  }
  // The limited user may work with Ray in team-a only.
  await apply(bed, '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/ray', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'ray', namespace: 'team-a' },
    rules: [
      { apiGroups: ['ray.io'], resources: ['rayclusters', 'rayjobs'], verbs: ['*'] },
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  await apply(bed, '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/ray', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'ray', namespace: 'team-a' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ray' },
    subjects: [{ kind: 'User', name: LIMITED_USER, apiGroup: 'rbac.authorization.k8s.io' }],
  });
  server = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
});

afterAll(async () => {
  await server?.close();
});

describe('KubeRay clusters', () => {
  it('starts a RayCluster with worker groups, with progress, and describes it', async () => {
    const progress: string[] = [];
    const result = await server.client.callTool(
      {
        name: 'init_ray_cluster',
        arguments: {
          cluster_type: 'kubernetes',
          cluster_name: 'rc-a',
          namespace: 'team-b',
          head_node_spec: { num_cpus: 2, memory: '4Gi' },
          worker_node_specs: [
            { group_name: 'cpu', replicas: 2, max_replicas: 4, num_cpus: 1, memory: '2Gi' },
            { group_name: 'gpu', replicas: 1, num_gpus: 1, memory: '8Gi' },
          ],
          timeout_seconds: 120,
        },
      },
      { timeout: 180_000, onprogress: (p) => progress.push(String(p.message)) },
    );
    expect(result.isError, textOf(result)).toBeFalsy();
    const view = result.structuredContent as unknown as View;
    expect(view).toMatchObject({ cluster_id: 'rc-a', status: 'running', owned: true });
    expect(view.kubernetes).toMatchObject({ context: 'testbed-admin', namespace: 'team-b', name: 'rc-a' });
    expect(view.nodes.filter((n) => n.alive)).toHaveLength(4);
    expect(view.dashboard_url).toBe(
      `${bed.server}/api/v1/namespaces/team-b/services/rc-a-head-svc:dashboard/proxy`,
    );
    expect(progress[0]).toBe('creating the RayCluster');
    expect(progress.at(-1)).toBe('cluster is ready');

    // What the operator made of what ray-mcp applied.
    const obj = (await kubeRequest(bed, 'GET', rc('team-b', 'rc-a'))).json;
    expect(obj.metadata.labels['app.kubernetes.io/managed-by']).toBe('ray-mcp');
    expect(obj.spec.headGroupSpec.serviceType).toBe('ClusterIP');
    const gpu = obj.spec.workerGroupSpecs.find((g: { groupName: string }) => g.groupName === 'gpu');
    expect(gpu.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(gpu.template.spec.containers[0].image).toBe('rayproject/ray:2.60.0-py311-gpu');

    const inspected = await callOk<View>(server.client, 'inspect_ray_cluster', { cluster_id: 'rc-a' });
    expect(inspected.kubernetes.worker_groups).toEqual([
      { group_name: 'cpu', replicas: 2, min_replicas: 0, max_replicas: 4, ready: 2 },
      { group_name: 'gpu', replicas: 1, min_replicas: 0, max_replicas: 1, ready: 1 },
    ]);
  });

  it('lists KubeRay clusters with local ones, including RayClusters it does not track', async () => {
    await apply(bed, rc('default', 'foreign'), foreignCluster('default', 'foreign'));
    const list = await waitFor(
      'the foreign RayCluster in the list',
      async () => {
        const l = await callOk<{
          clusters: { cluster_id: string; tracked?: boolean; namespace?: string; owned?: boolean }[];
        }>(server.client, 'list_ray_clusters');
        return l.clusters.some((c) => c.cluster_id === 'foreign') && l;
      },
      30_000,
      300,
    );
    expect(list.clusters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          cluster_id: 'rc-a',
          kind: 'kuberay',
          namespace: 'team-b',
          tracked: true,
          owned: true,
        }),
        expect.objectContaining({
          cluster_id: 'foreign',
          kind: 'kuberay',
          namespace: 'default',
          tracked: false,
          owned: false,
        }),
      ]),
    );
    const onlyDefault = await callOk<{ clusters: { cluster_id: string }[] }>(
      server.client,
      'list_ray_clusters',
      { namespace: 'default' },
    );
    expect(onlyDefault.clusters.map((c) => c.cluster_id)).toEqual(['foreign']);
  });

  it('scales a worker group by name: replicas, bounds and specific workers', async () => {
    const up = await callOk<View>(server.client, 'scale_ray_cluster', {
      cluster_id: 'rc-a',
      worker_group: 'cpu',
      workers: 3,
    });
    expect(up.kubernetes.worker_groups.find((g) => g.group_name === 'cpu')).toMatchObject({
      replicas: 3,
      ready: 3,
    });

    const victim = (await podsOf('team-b', 'rc-a')).find((p) => p.metadata.labels['ray.io/group'] === 'cpu')!
      .metadata.name;
    const down = await callOk<View>(server.client, 'scale_ray_cluster', {
      cluster_id: 'rc-a',
      worker_group: 'cpu',
      workers_to_delete: [victim],
    });
    expect(down.kubernetes.worker_groups.find((g) => g.group_name === 'cpu')).toMatchObject({
      replicas: 2,
      ready: 2,
    });
    expect(down.nodes.map((n) => n.name)).not.toContain(victim);

    const bounds = await callOk<View>(server.client, 'scale_ray_cluster', {
      cluster_id: 'rc-a',
      worker_group: 'cpu',
      min_replicas: 1,
      max_replicas: 8,
    });
    expect(bounds.kubernetes.worker_groups.find((g) => g.group_name === 'cpu')).toMatchObject({
      min_replicas: 1,
      max_replicas: 8,
    });
  });

  it('refuses a bad worker group, a bound violation and unknown workers, and says what exists', async () => {
    const bad = await server.client.callTool({
      name: 'scale_ray_cluster',
      arguments: { cluster_id: 'rc-a', worker_group: 'tpu', workers: 1 },
    });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/no worker group tpu[\s\S]*cpu, gpu/);
    // The bounds of cpu are the user's (set at creation and by the last scale): they hold.
    const over = await server.client.callTool({
      name: 'scale_ray_cluster',
      arguments: { cluster_id: 'rc-a', worker_group: 'cpu', workers: 9 },
    });
    expect(over.isError).toBe(true);
    expect(textOf(over)).toMatch(/outside min_replicas 1 \.\. max_replicas 8/);
    const ghost = await server.client.callTool({
      name: 'scale_ray_cluster',
      arguments: { cluster_id: 'rc-a', worker_group: 'cpu', workers_to_delete: ['nope-123'] },
    });
    expect(ghost.isError).toBe(true);
    expect(textOf(ghost)).toMatch(/Not workers of group cpu: nope-123/);
  });

  it('keeps every change after the API server restarts', async () => {
    await restartApiserver(bed, 1500);
    // Changes made right after the restart, while the informers are still relisting.
    await apply(bed, rc('default', 'after-restart'), foreignCluster('default', 'after-restart'));
    await kubeRequest(
      bed,
      'PATCH',
      rc('team-b', 'rc-a'),
      [{ op: 'replace', path: '/spec/workerGroupSpecs/0/replicas', value: 3 }],
      'application/json-patch+json',
    );
    // The operator and kwok reconnect with client-go's own backoff after a restart, so the new pod
    // can take a while to exist; what matters is that ray-mcp ends up seeing every change.
    let last = '';
    const seen = await waitFor(
      'the changes seen through the tools',
      async () => {
        const l = await callOk<{ clusters: { cluster_id: string }[] }>(server.client, 'list_ray_clusters');
        const v = await callOk<View>(server.client, 'inspect_ray_cluster', { cluster_id: 'rc-a' });
        const cpu = v.kubernetes.worker_groups.find((g) => g.group_name === 'cpu');
        last = JSON.stringify({ clusters: l.clusters.map((c) => c.cluster_id), cpu, status: v.status });
        return (
          l.clusters.some((c) => c.cluster_id === 'after-restart') &&
          cpu?.replicas === 3 &&
          cpu.ready === 3 &&
          v
        );
      },
      150_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${last}`);
    });
    expect(seen.status).toBe('running');
    const info = await callOk<{ connection: { status: string } }>(
      server.client,
      'get_kubernetes_cluster_info',
    );
    expect(info.connection.status).toBe('connected');
  }, 240_000);

  it('never deletes a RayCluster it did not create unless named explicitly', async () => {
    // Naming it attaches it; it becomes the current cluster.
    const attached = await waitFor(
      'foreign running',
      async () => {
        const v = await callOk<View>(server.client, 'inspect_ray_cluster', { cluster_id: 'foreign' });
        return v.status === 'running' && v;
      },
      60_000,
      500,
    );
    expect(attached).toMatchObject({ owned: false, status: 'running' });
    const forgot = await server.client.callTool({ name: 'stop_ray_cluster', arguments: {} });
    expect(textOf(forgot)).toMatch(/Stopped tracking RayCluster default\/foreign/);
    expect((await kubeRequest(bed, 'GET', rc('default', 'foreign'))).status).toBe(200);

    const named = await callOk<View>(server.client, 'stop_ray_cluster', { cluster_id: 'foreign' });
    expect(named.status).toBe('stopped');
    expect((await kubeRequest(bed, 'GET', rc('default', 'foreign'))).status).toBe(404);
    expect(await podsOf('default', 'foreign')).toHaveLength(0);
  });

  it('stops its own cluster: the RayCluster and all its pods are gone', async () => {
    const stopped = await callOk<View>(server.client, 'stop_ray_cluster', { cluster_id: 'rc-a' });
    expect(stopped.status).toBe('stopped');
    expect((await kubeRequest(bed, 'GET', rc('team-b', 'rc-a'))).status).toBe(404);
    expect(await podsOf('team-b', 'rc-a')).toHaveLength(0);
    // Idempotent.
    expect((await callOk<View>(server.client, 'stop_ray_cluster', { cluster_id: 'rc-a' })).status).toBe(
      'stopped',
    );
  });

  it('fails a start whose pods cannot be scheduled, says why, and deletes what it made', async () => {
    const res = await server.client.callTool(
      {
        name: 'init_ray_cluster',
        arguments: {
          cluster_type: 'kubernetes',
          cluster_name: 'rc-nogpu',
          namespace: 'team-b',
          worker_node_specs: [{ group_name: 'gpu', replicas: 1, num_gpus: 1, gpu_type: 'nvidia-h100-80gb' }],
          timeout_seconds: 10,
        },
      },
      { timeout: 60_000 },
    );
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/not ready within 10 s[\s\S]*Pending\/Unschedulable/);
    await waitFor(
      'the failed RayCluster deleted',
      async () => (await kubeRequest(bed, 'GET', rc('team-b', 'rc-nogpu'))).status === 404,
      30_000,
      300,
    );
  });

  it('works in the one namespace a limited user has rights in, and says so elsewhere', async () => {
    const limited = await startStdioServer({ env: { KUBECONFIG: bed.kubeconfig } });
    try {
      await callOk(limited.client, 'connect_kubernetes_cluster', { context: 'testbed-limited' });
      const denied = await limited.client.callTool({
        name: 'init_ray_cluster',
        arguments: {
          cluster_type: 'kubernetes',
          cluster_name: 'rc-denied',
          namespace: 'default',
          timeout_seconds: 30,
        },
      });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toMatch(/Not allowed on testbed-limited[\s\S]*forbidden/i);
      const ok = await callOk<View>(limited.client, 'init_ray_cluster', {
        cluster_type: 'kubernetes',
        cluster_name: 'rc-team',
        namespace: 'team-a',
        timeout_seconds: 60,
      });
      expect(ok).toMatchObject({
        status: 'running',
        kubernetes: { namespace: 'team-a', context: 'testbed-limited' },
      });
      expect((await callOk<View>(limited.client, 'stop_ray_cluster', { cluster_id: 'rc-team' })).status).toBe(
        'stopped',
      );
    } finally {
      await limited.close();
    }
  });

  it('refuses Kubernetes-only options for a local cluster and local options on Kubernetes', async () => {
    const a = await server.client.callTool({ name: 'init_ray_cluster', arguments: { namespace: 'default' } });
    expect(a.isError).toBe(true);
    expect(textOf(a)).toMatch(/namespace only apply to clusters on Kubernetes/);
    const b = await server.client.callTool({
      name: 'init_ray_cluster',
      arguments: { cluster_type: 'kubernetes', num_cpus: 2 },
    });
    expect(b.isError).toBe(true);
    expect(textOf(b)).toMatch(/num_cpus do not apply/);
  });
});
