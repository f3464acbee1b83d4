/**
 * Fast handler tests of the Kubernetes tools against fake API servers (kubeconfig contexts and
 * GKE/EKS clusters) from test/helpers/fake-world.ts.
 */
import { describe, expect, it } from 'vitest';
import { fakeServers, invalidArg, ok, refused } from '../helpers/fake-server.js';
import type { FakeWorld } from '../helpers/fake-world.js';
import { textOf } from '../helpers/mcp.js';

const start = fakeServers();
const PROJECT = 'proj-123456';

/** Two kubeconfig contexts; `kind-dev` is the current one. */
const twoContexts = (w: FakeWorld) => {
  w.kube.addContext('kind-dev');
  w.kube.addContext('staging', { namespace: 'ray', clusterWide: false, namespaces: ['ray'] });
};

/** GCP credentials, and a running GKE cluster `ml` that ray-mcp did not create. */
const gke = (w: FakeWorld) => {
  w.clouds.gke.identity = { method: 'application_default', principal: 'me@example.com', project: PROJECT };
  w.clouds.addCluster('gke', 'ml');
};

describe('list_kubernetes_clusters', () => {
  it('lists the kubeconfig contexts, the current one, and the connection to each', async () => {
    const { client } = await start(twoContexts);
    const before = await ok(client, 'list_kubernetes_clusters');
    expect(before).toMatchObject({ provider: 'kubeconfig', current_context: 'kind-dev' });
    expect(before.contexts).toMatchObject([
      { name: 'kind-dev', current: true },
      { name: 'staging', current: false, namespace: 'ray' },
    ]);
    expect(before.contexts[0].connection).toBeUndefined();
    await ok(client, 'connect_kubernetes_cluster', { context: 'staging' });
    const after = await ok(client, 'list_kubernetes_clusters', { provider: 'k8s' });
    expect(after.contexts[1]).toMatchObject({ name: 'staging', connection: 'connected' });
  });

  it('says how to get a kubeconfig when there is none', async () => {
    const { client } = await start();
    const res = await client.callTool({ name: 'list_kubernetes_clusters', arguments: {} });
    expect(res.structuredContent).toMatchObject({ provider: 'kubeconfig', contexts: [] });
    expect(textOf(res)).toMatch(/No kubeconfig contexts/);
  });

  it('lists the clusters of a cloud', async () => {
    const { client } = await start((w) => {
      gke(w);
      w.clouds.addCluster('gke', 'batch', { managed_by_ray_mcp: true, status: 'PROVISIONING', ready: false });
    });
    const r = await ok(client, 'list_kubernetes_clusters', { provider: 'gcp', zone: 'us-central1-a' });
    expect(r).toMatchObject({ provider: 'gke', project: PROJECT });
    expect(r.clusters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'ml', ready: true, managed_by_ray_mcp: false }),
        expect.objectContaining({ name: 'batch', ready: false, managed_by_ray_mcp: true }),
      ]),
    );
  });

  it('refuses an unknown provider, a bad location, a foreign cursor and missing credentials', async () => {
    const { client } = await start();
    await refused(client, 'list_kubernetes_clusters', { provider: 'azure' }, invalidArg('provider'));
    await refused(
      client,
      'list_kubernetes_clusters',
      { provider: 'gke', zone: 'moon-1' },
      /moon-1 is not a GCP zone or region/,
    );
    await refused(
      client,
      'list_kubernetes_clusters',
      { provider: 'eks', project_id: PROJECT },
      /project_id is for GKE/,
    );
    await refused(
      client,
      'list_kubernetes_clusters',
      { provider: 'gke', cursor: 'not-a-cursor' },
      /That cursor does not belong to this listing/,
    );
    await refused(client, 'list_kubernetes_clusters', { provider: 'gke' }, /No GCP credentials found/);
  });
});

describe('connect_kubernetes_cluster', () => {
  it('connects to the current context and reports the API server', async () => {
    const { client } = await start(twoContexts);
    const r = await ok(client, 'connect_kubernetes_cluster');
    expect(r).toMatchObject({
      connection: 'kind-dev',
      status: 'connected',
      context: 'kind-dev',
      namespace: 'default',
      kubernetes_version: 'v1.33.1',
      cluster_wide: true,
      kuberay_crds: true,
    });
    expect(r.server).toMatch(/^https:\/\//);
    // Again: the same connection, still connected.
    expect(await ok(client, 'connect_kubernetes_cluster', { context: 'kind-dev' })).toMatchObject({
      connection: 'kind-dev',
      status: 'connected',
    });
  });

  it('connects, but warns, when KubeRay is not installed', async () => {
    const { client } = await start((w) => w.kube.addContext('bare', { crdsInstalled: false }));
    const res = await client.callTool({ name: 'connect_kubernetes_cluster', arguments: { context: 'bare' } });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ status: 'connected', kuberay_crds: false });
    expect(textOf(res)).toMatch(/KubeRay CRDs are not installed/);
  });

  it('connects to a GKE cluster by name and writes a kubeconfig context when asked', async () => {
    const { client, world } = await start(gke);
    const r = await ok(client, 'connect_kubernetes_cluster', {
      provider: 'gke',
      cluster_name: 'ml',
      zone: 'us-central1-a',
      write_kubeconfig: true,
    });
    expect(r).toMatchObject({ connection: `gke:${PROJECT}/us-central1-a/ml`, status: 'connected' });
    expect(r.kubeconfig_written).toContain('gke_ml');
    expect(world.clouds.gke.written).toEqual(['gke_ml']);
  });

  it('refuses what it cannot connect to', async () => {
    const { client } = await start((w) => {
      gke(w);
      w.clouds.addCluster('gke', 'young', { status: 'PROVISIONING', ready: false });
    });
    await refused(
      client,
      'connect_kubernetes_cluster',
      {},
      /No context given and the kubeconfig has no current context/,
      /Fix: Pass context/,
    );
    await refused(
      client,
      'connect_kubernetes_cluster',
      { cluster_name: 'ml' },
      /cluster_name needs a provider: gke or eks/,
    );
    await refused(
      client,
      'connect_kubernetes_cluster',
      { provider: 'eks' },
      /Which EKS cluster\? cluster_name is missing/,
    );
    await refused(client, 'connect_kubernetes_cluster', { context: 'nope' }, /No kubeconfig context nope/);
    await refused(
      client,
      'connect_kubernetes_cluster',
      { provider: 'gke', cluster_name: 'young' },
      /GKE cluster young is PROVISIONING, not ready to connect/,
    );
  });
});

describe('get_kubernetes_cluster_info', () => {
  it('describes the current connection: version, nodes, KubeRay', async () => {
    const { client } = await start(twoContexts);
    await ok(client, 'connect_kubernetes_cluster');
    const r = await ok(client, 'get_kubernetes_cluster_info');
    expect(r).toMatchObject({
      connection: { connection: 'kind-dev', status: 'connected' },
      kubernetes: {
        version: 'v1.33.1',
        nodes: { total: 3, ready: 3 },
        kuberay: { crds_installed: true, operator: { namespace: 'kuberay', ready: true } },
        problems: [],
      },
    });
  });

  it('connects to a named context on the way', async () => {
    const { client } = await start(twoContexts);
    const r = await ok(client, 'get_kubernetes_cluster_info', { context: 'staging' });
    expect(r.connection).toMatchObject({ connection: 'staging', status: 'connected', namespace: 'ray' });
  });

  it('describes a cloud cluster it is not connected to from the cloud API alone', async () => {
    const { client } = await start(gke);
    const res = await client.callTool({
      name: 'get_kubernetes_cluster_info',
      arguments: { provider: 'gke', cluster_name: 'ml' },
    });
    expect(res.structuredContent).toMatchObject({ cloud: { name: 'ml', provider: 'gke', ready: true } });
    expect((res.structuredContent as { connection?: unknown }).connection).toBeUndefined();
    expect(textOf(res)).toMatch(/not connected/);
  });

  it('refuses when nothing is connected or the cluster is not named', async () => {
    const { client } = await start(twoContexts);
    await refused(
      client,
      'get_kubernetes_cluster_info',
      {},
      /Not connected to any Kubernetes cluster/,
      /Fix: Connect with connect_kubernetes_cluster/,
    );
    await refused(
      client,
      'get_kubernetes_cluster_info',
      { cluster_name: 'ml' },
      /cluster_name needs a provider/,
    );
    await refused(client, 'get_kubernetes_cluster_info', { provider: 'gke' }, /cluster_name is missing/);
    await refused(
      client,
      'get_kubernetes_cluster_info',
      { provider: 'gke', cluster_name: 'ml' },
      /No GCP credentials/,
    );
  });
});

describe('list_kuberay_jobs', () => {
  const rayJobs = (w: FakeWorld) => {
    w.kube.addContext('kind-dev');
    w.kube.addRayJob('kind-dev', 'default', 'etl-a', {
      deploymentStatus: 'Complete',
      jobStatus: 'SUCCEEDED',
      createdAt: '2026-01-01T00:00:00Z',
    });
    w.kube.addRayJob('kind-dev', 'default', 'etl-b', {
      deploymentStatus: 'Running',
      jobStatus: 'RUNNING',
      managedByUs: true,
      createdAt: '2026-01-02T00:00:00Z',
    });
    w.kube.addRayJob('kind-dev', 'team', 'other', { deploymentStatus: 'Failed' });
  };

  it("lists the RayJobs of the context's namespace, newest first, with a status filter", async () => {
    const { client } = await start(rayJobs);
    const r = await ok(client, 'list_kuberay_jobs');
    expect(r).toMatchObject({ context: 'kind-dev', namespace: 'default', total: 2 });
    expect(r.rayjobs).toMatchObject([
      { name: 'etl-b', deployment_status: 'Running', job_status: 'RUNNING', owned: true },
      { name: 'etl-a', deployment_status: 'Complete', owned: false },
    ]);
    const done = await ok(client, 'list_kuberay_jobs', { deployment_status: ['Complete'] });
    expect(done.rayjobs.map((j: { name: string }) => j.name)).toEqual(['etl-a']);
    const page = await ok(client, 'list_kuberay_jobs', { limit: 1 });
    expect(page.next_cursor).toBeDefined();
  });

  it('lists every namespace with all_namespaces', async () => {
    const { client } = await start(rayJobs);
    const r = await ok(client, 'list_kuberay_jobs', { all_namespaces: true });
    expect(r).toMatchObject({ namespace: '', total: 3 });
    expect(r.rayjobs.map((j: { name: string }) => j.name)).toContain('other');
  });

  it('refuses two scopes, no connection, no KubeRay and a made-up cursor', async () => {
    const none = await start();
    await refused(none.client, 'list_kuberay_jobs', {}, /No Kubernetes connection/);
    const { client } = await start((w) => {
      w.kube.addContext('kind-dev');
      w.kube.addContext('bare', { crdsInstalled: false });
    });
    await refused(
      client,
      'list_kuberay_jobs',
      { namespace: 'default', all_namespaces: true },
      /Pass namespace or all_namespaces, not both/,
    );
    await refused(client, 'list_kuberay_jobs', { cursor: 'next' }, invalidArg('cursor'));
    await refused(
      client,
      'list_kuberay_jobs',
      { kubernetes_context: 'bare' },
      /KubeRay CRDs are not installed on bare \(no ray\.io\/v1 RayJob\)/,
    );
  });
});
