/**
 * Every answer true (issue 13), fast: the real system and MCP server over InMemoryTransport with
 * the fake world. State that stays the world's (failed starts, untracked clusters, counts,
 * bounds, idempotent stops) and diagnoses that name the real cause.
 */
import { describe, expect, it } from 'vitest';
import { DashboardHttpError, dashboardError } from '../../src/clients/dashboard.client.js';
import { fakeServers, ok, refused } from '../helpers/fake-server.js';
import { FakeWorld } from '../helpers/fake-world.js';
import { scratchDir, startInMemoryServer, textOf } from '../helpers/mcp.js';

const start = fakeServers();

describe('forbidden is not absent', () => {
  it('connect does not say "Connected" while the watches of its namespace are forbidden', async () => {
    const { client } = await start((w) =>
      w.kube.addContext('kind-dev', { clusterWide: false, forbidden: ['default'] }),
    );
    const res = await client.callTool({ name: 'connect_kubernetes_cluster', arguments: {} });
    expect(res.isError, textOf(res)).toBeFalsy();
    expect(textOf(res)).not.toMatch(/^Connected/);
    expect(textOf(res)).toMatch(/watches of namespace default fail[\s\S]*cannot list resource "pods"/);
    expect((res.structuredContent as { watch_errors?: string[] }).watch_errors).toHaveLength(3);
  });

  it('list_kuberay_jobs on a forbidden namespace answers with the whole message, every time', async () => {
    const { client } = await start((w) =>
      w.kube.addContext('kind-dev', { clusterWide: false, forbidden: ['secret'] }),
    );
    await ok(client, 'connect_kubernetes_cluster');
    for (let i = 0; i < 2; i++) {
      await refused(
        client,
        'list_kuberay_jobs',
        { namespace: 'secret' },
        /cannot list resource "rayjobs" in API group "ray\.io" in the namespace "secret"/,
      );
    }
  });
});

describe('a failed KubeRay start', () => {
  it('that created nothing leaves nothing: not listed, never current, and the name is free again', async () => {
    const { client } = await start((w) => w.kube.addContext('kind-dev'));
    await refused(
      client,
      'init_ray_cluster',
      { cluster_type: 'kubernetes', cluster_name: 'rc-x', namespace: 'nope' },
      /Namespace nope does not exist/,
      /Nothing was created/,
    );
    const list = await ok(client, 'list_ray_clusters');
    expect(list.clusters.map((c: { cluster_id: string }) => c.cluster_id)).not.toContain('rc-x');
    expect(list.current).toBeUndefined();
    // stop_ray_cluster() does not answer with the old failure: there is no current cluster.
    await refused(client, 'stop_ray_cluster', {}, /There is no current cluster/);
    const again = await ok(client, 'init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'rc-x' });
    expect(again).toMatchObject({ cluster_id: 'rc-x', status: 'running' });
  });
});

describe('a RayCluster ray-mcp did not create', () => {
  it('is listed untracked (not stopped) after "Stopped tracking", and keeps its own created_at', async () => {
    const created = '2026-01-02T03:04:05.000Z';
    const { client } = await start((w) => {
      w.kube.addContext('kind-dev');
      w.kube.putRayCluster('kind-dev', {
        namespace: 'default',
        name: 'theirs',
        managedByUs: false,
        createdAt: created,
        groups: [{ name: 'cpu', replicas: 1, minReplicas: 0, maxReplicas: 2, workersToDelete: [] }],
      });
    });
    await ok(client, 'connect_kubernetes_cluster');
    const attached = await ok(client, 'inspect_ray_cluster', { cluster_id: 'theirs' });
    expect(attached.created_at).toBe(created);
    const res = await client.callTool({ name: 'stop_ray_cluster', arguments: {} });
    expect(textOf(res)).toMatch(/Stopped tracking RayCluster default\/theirs/);
    const list = await ok(client, 'list_ray_clusters');
    expect(list.clusters.filter((c: { cluster_id: string }) => c.cluster_id === 'theirs')).toEqual([
      expect.objectContaining({ status: 'running', tracked: false, owned: false, created_at: created }),
    ]);
    const again = await ok(client, 'inspect_ray_cluster', { cluster_id: 'theirs' });
    expect(again.created_at).toBe(created);
  });

  it('just attached, is the current cluster even though it is older than one ray-mcp started', async () => {
    const { client, world } = await start((w) => {
      w.kube.addContext('kind-dev');
      w.kube.putRayCluster('kind-dev', {
        namespace: 'default',
        name: 'theirs',
        managedByUs: false,
        createdAt: '2020-01-01T00:00:00.000Z',
        groups: [{ name: 'cpu', replicas: 1, minReplicas: 0, maxReplicas: 2, workersToDelete: [] }],
      });
    });
    await ok(client, 'init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'ours' });
    await ok(client, 'inspect_ray_cluster', { cluster_id: 'theirs' });
    // stop_ray_cluster() means the cluster just taken on, not the newer one by creation time.
    const res = await client.callTool({ name: 'stop_ray_cluster', arguments: {} });
    expect(textOf(res)).toMatch(/Stopped tracking RayCluster default\/theirs/);
    expect(world.kube.apis.get('kind-dev')!.rayClusters.has('default/ours')).toBe(true);
  });
});

describe('a restart with the default exit policy (stop)', () => {
  it('keeps the RayClusters ray-mcp created: adopted through their connection, tracked, owned, current', async () => {
    const world = new FakeWorld();
    world.kube.addContext('kind-dev');
    const flags = { requestTimeout: '5', dataDir: scratchDir('data') };
    const first = await startInMemoryServer(flags, {}, { actors: world.actors });
    try {
      await ok(first.client, 'init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'rc-k' });
    } finally {
      await first.close();
    }
    // --on-exit stop leaves a RayCluster running: it is not a process of ours.
    expect(world.kube.apis.get('kind-dev')!.rayClusters.has('default/rc-k')).toBe(true);
    const second = await startInMemoryServer(flags, {}, { actors: world.actors });
    try {
      let list = await ok(second.client, 'list_ray_clusters');
      for (const until = Date.now() + 15_000; list.current !== 'rc-k' && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 20));
        list = await ok(second.client, 'list_ray_clusters');
      }
      expect(list.clusters).toEqual([
        expect.objectContaining({ cluster_id: 'rc-k', status: 'running', tracked: true, owned: true }),
      ]);
      expect(list.current).toBe('rc-k');
    } finally {
      await second.close();
    }
  });
});

describe('KubeRay counts, bounds and stops', () => {
  it('ready_workers agrees with worker_groups.ready, however far the operator status lags', async () => {
    const { client, world } = await start((w) => w.kube.addContext('kind-dev'));
    const r = await ok(client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'rc-c',
      worker_node_specs: [{ group_name: 'cpu', replicas: 1 }],
    });
    // The operator's status fields lag behind the pods.
    const api = world.kube.apis.get('kind-dev')!;
    world.kube.putRayCluster('kind-dev', {
      ...api.rayClusters.get('default/rc-c')!,
      readyWorkers: 0,
      desiredWorkers: 0,
      conditions: [{ type: 'Lagging', status: 'True' }],
    });
    // Once the cluster actor has heard of it.
    let v = await ok(client, 'inspect_ray_cluster', { cluster_id: 'rc-c' });
    for (
      let i = 0;
      i < 50 && !v.kubernetes.conditions.some((c: { type: string }) => c.type === 'Lagging');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
      v = await ok(client, 'inspect_ray_cluster', { cluster_id: 'rc-c' });
    }
    expect(v.kubernetes.conditions).toEqual([expect.objectContaining({ type: 'Lagging' })]);
    expect(v.kubernetes.worker_groups).toMatchObject([{ group_name: 'cpu', ready: 1 }]);
    expect(v.kubernetes).toMatchObject({ ready_workers: 1, desired_workers: 1 });
    expect(r.kubernetes.ready_workers).toBe(1);
  });

  it('a scale past the bound ray-mcp chose raises it; a bound the user set holds', async () => {
    const { client } = await start((w) => w.kube.addContext('kind-dev'));
    await ok(client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'rc-m',
      worker_node_specs: [
        { group_name: 'cpu', replicas: 1 },
        { group_name: 'big', replicas: 1, max_replicas: 2 },
      ],
    });
    const up = await ok(client, 'scale_ray_cluster', { cluster_id: 'rc-m', worker_group: 'cpu', workers: 2 });
    expect(up.kubernetes.worker_groups[0]).toMatchObject({
      group_name: 'cpu',
      replicas: 2,
      max_replicas: 2,
      ready: 2,
    });
    expect(up.kubernetes.ready_workers).toBe(3);
    await refused(
      client,
      'scale_ray_cluster',
      { cluster_id: 'rc-m', worker_group: 'big', workers: 3 },
      /outside min_replicas 0 \.\. max_replicas 2/,
    );
    // Once the user sets a bound in a scale, it is theirs.
    await ok(client, 'scale_ray_cluster', { cluster_id: 'rc-m', worker_group: 'cpu', max_replicas: 2 });
    await refused(
      client,
      'scale_ray_cluster',
      { cluster_id: 'rc-m', worker_group: 'cpu', workers: 3 },
      /outside min_replicas 0 \.\. max_replicas 2/,
    );
  });

  it('a bad node_type is reported as a node type', async () => {
    const { client } = await start((w) => w.kube.addContext('kind-dev'));
    await ok(client, 'init_ray_cluster', {
      cluster_type: 'kubernetes',
      cluster_name: 'rc-n',
      worker_node_specs: [{ group_name: 'cpu', replicas: 1 }],
    });
    await refused(
      client,
      'scale_ray_cluster',
      { cluster_id: 'rc-n', node_type: 'gpux', workers: 1 },
      /node_type gpux is not a node type of RayCluster default\/rc-n/,
      /one of cpu/,
    );
    const ok2 = await ok(client, 'scale_ray_cluster', { cluster_id: 'rc-n', node_type: 'cpu', workers: 1 });
    expect(ok2.kubernetes.worker_groups[0]).toMatchObject({ replicas: 1 });
  });

  it('a second stop says the RayCluster is already gone, not "Deleted" again', async () => {
    const { client } = await start((w) => w.kube.addContext('kind-dev'));
    await ok(client, 'init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'rc-s' });
    const first = await client.callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: 'rc-s' } });
    expect(textOf(first)).toMatch(/Deleted RayCluster default\/rc-s/);
    const second = await client.callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: 'rc-s' } });
    expect(second.isError).toBeFalsy();
    expect(textOf(second)).toMatch(/already gone/);
    expect(textOf(second)).not.toMatch(/Deleted/);
  });
});

describe('dashboard errors through the API server service proxy', () => {
  const url = 'https://k8s:6443/api/v1/namespaces/team/services/rc-head-svc:dashboard/proxy';
  const status = (code: number, message: string) =>
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });

  it('a 404 or 503 of the proxy says the head service has no ready endpoint yet', () => {
    for (const code of [404, 503]) {
      const err = dashboardError(
        url,
        new DashboardHttpError(code, status(code, 'services "rc-head-svc" not found'), '/api/jobs/'),
      );
      expect(err.message).toMatch(
        /team\/rc-head-svc is not reachable yet: no ready endpoint for the head service/,
      );
      expect(err.fix).toMatch(/Running and Ready[\s\S]*rc-head-svc/);
      expect(err.fix).not.toMatch(/^Check the cluster with inspect_ray_cluster\.$/);
    }
    // Ray's own 404 (no such job) stays Ray's.
    const ray = dashboardError(url, new DashboardHttpError(404, 'Job x does not exist', '/api/jobs/x'));
    expect(ray.message).not.toMatch(/no ready endpoint/);
  });

  it('a 403 of Kubernetes RBAC names the missing verb and resource; a Ray refusal names the token', () => {
    const rbac = dashboardError(
      url,
      new DashboardHttpError(
        403,
        status(
          403,
          'services "rc-head-svc" is forbidden: User "limited" cannot get resource "services/proxy" in API group "" in the namespace "team"',
        ),
        '/api/jobs/',
      ),
    );
    expect(rbac).toMatchObject({ code: 'forbidden' });
    expect(rbac.message).toMatch(/Kubernetes RBAC lacks get on services\/proxy in namespace team/);
    expect(`${rbac.message} ${rbac.fix}`).not.toMatch(/RAY_AUTH_TOKEN/);
    const ray = dashboardError(url, new DashboardHttpError(403, 'Unauthorized', '/api/jobs/'));
    expect(ray.message).toMatch(/token authentication/);
  });
});
