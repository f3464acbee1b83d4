/**
 * Fast handler tests of the cloud tools against fake GKE and EKS (test/helpers/fake-world.ts):
 * detection, authentication, status, disconnect, templates, cluster creation and its operation.
 */
import { describe, expect, it } from 'vitest';
import { fakeServers, invalidArg, ok, refused } from '../helpers/fake-server.js';
import type { FakeWorld } from '../helpers/fake-world.js';
import { textOf } from '../helpers/mcp.js';

const start = fakeServers();
const PROJECT = 'proj-123456';

const gcp = (w: FakeWorld) => {
  w.clouds.gke.identity = { method: 'application_default', principal: 'me@example.com', project: PROJECT };
};
const aws = (w: FakeWorld) => {
  w.clouds.eks.identity = {
    method: 'profile',
    principal: 'arn:aws:iam::123456789012:user/me',
    profile: 'dev',
    region: 'us-east-1',
    account: '123456789012',
  };
};

const gkeSpec = (name = 'ray-gke') => ({
  name,
  zone: 'us-central1-a',
  node_pools: [{ name: 'cpu', machine_type: 'e2-standard-8', node_count: 1 }],
});

describe('detect_cloud_provider', () => {
  it('finds the credentials of each provider and recommends a usable one', async () => {
    const { client } = await start(gcp);
    const r = await ok(client, 'detect_cloud_provider');
    expect(r.recommended).toBe('gke');
    expect(r.providers).toMatchObject([
      { provider: 'gke', usable: true, project: PROJECT, state: 'unconfigured' },
      { provider: 'eks', usable: false, state: 'unconfigured' },
    ]);
  });

  it('checks one provider when asked (aliases accepted), and recommends none without credentials', async () => {
    const { client } = await start();
    const r = await ok(client, 'detect_cloud_provider', { provider: 'aws' });
    expect(r.providers).toMatchObject([{ provider: 'eks', usable: false }]);
    expect(r.recommended).toBeUndefined();
  });

  it('refuses an unknown provider', async () => {
    const { client } = await start();
    await refused(client, 'detect_cloud_provider', { provider: 'azure' }, invalidArg('provider'));
  });
});

describe('authenticate_cloud_provider', () => {
  it('authenticates and says as whom, never a secret', async () => {
    const { client } = await start((w) => {
      gcp(w);
      aws(w);
    });
    const g = await ok(client, 'authenticate_cloud_provider', {
      provider: 'gcp',
      project_id: 'other-project',
    });
    expect(g).toMatchObject({
      provider: 'gke',
      state: 'authenticated',
      identity: { method: 'application_default', principal: 'me@example.com', project: 'other-project' },
    });
    expect(g.authenticated_at).toEqual(expect.any(String));
    const e = await ok(client, 'authenticate_cloud_provider', { provider: 'eks', region: 'eu-west-1' });
    expect(e).toMatchObject({ provider: 'eks', state: 'authenticated', identity: { region: 'eu-west-1' } });
  });

  it('refuses options of the other cloud, bad ids, and missing credentials (then reports them)', async () => {
    const { client } = await start();
    await refused(
      client,
      'authenticate_cloud_provider',
      { provider: 'gke', region: 'us-east-1' },
      /profile and region are for EKS/,
    );
    await refused(
      client,
      'authenticate_cloud_provider',
      { provider: 'eks', project_id: PROJECT },
      /project_id and service_account_path are for GKE/,
    );
    await refused(
      client,
      'authenticate_cloud_provider',
      { provider: 'gke', project_id: 'X' },
      invalidArg('project_id'),
    );
    await refused(
      client,
      'authenticate_cloud_provider',
      { provider: 'gke' },
      /No GCP credentials found/,
      /Fix: Run `gcloud auth/,
    );
    const status = await ok(client, 'get_cloud_provider_status', { provider: 'gke' });
    expect(status.providers).toMatchObject([
      { provider: 'gke', state: 'failed', authenticated: false, error: { problem: 'missing' } },
    ]);
  });
});

describe('get_cloud_provider_status', () => {
  it('reports unconfigured providers without contacting anything', async () => {
    const { client } = await start();
    const r = await ok(client, 'get_cloud_provider_status');
    expect(r.providers).toMatchObject([
      { provider: 'gke', state: 'unconfigured', authenticated: false, operations: [] },
      { provider: 'eks', state: 'unconfigured', authenticated: false, operations: [] },
    ]);
  });

  it('shows who is authenticated and the creations it follows', async () => {
    const { client } = await start(gcp);
    await ok(client, 'create_kubernetes_cluster', { provider: 'gke', cluster_spec: gkeSpec() });
    const r = await ok(client, 'get_cloud_provider_status', { provider: 'gke' });
    expect(r.providers).toMatchObject([
      {
        provider: 'gke',
        state: 'authenticated',
        authenticated: true,
        identity: { principal: 'me@example.com' },
        operations: [{ cluster_name: 'ray-gke', status: 'running' }],
      },
    ]);
  });

  it('refuses an unknown provider', async () => {
    const { client } = await start();
    await refused(client, 'get_cloud_provider_status', { provider: 'ibm' }, invalidArg('provider'));
  });
});

describe('disconnect_cloud_provider', () => {
  it('forgets the credentials; disconnecting again is a no-op', async () => {
    const { client } = await start(aws);
    await ok(client, 'authenticate_cloud_provider', { provider: 'eks' });
    const r = await ok(client, 'disconnect_cloud_provider', { provider: 'eks' });
    expect(r).toMatchObject({ provider: 'eks', was: 'authenticated', state: 'disconnected' });
    const again = await client.callTool({
      name: 'disconnect_cloud_provider',
      arguments: { provider: 'aws' },
    });
    expect(again.structuredContent).toMatchObject({ was: 'disconnected', state: 'disconnected' });
    expect(textOf(again)).toMatch(/was not connected/);
    const status = await ok(client, 'get_cloud_provider_status', { provider: 'eks' });
    expect(status.providers[0]).toMatchObject({ authenticated: false });
    expect(status.providers[0].identity).toBeUndefined();
  });

  it('refuses without a provider', async () => {
    const { client } = await start();
    await refused(client, 'disconnect_cloud_provider', {}, invalidArg('provider'));
  });
});

describe('get_cloud_config_template', () => {
  it('gives create_kubernetes_cluster arguments that its dry run accepts', async () => {
    const { client } = await start();
    const t = await ok(client, 'get_cloud_config_template', { provider: 'gcp' });
    expect(t).toMatchObject({ provider: 'gke', template_type: 'gpu', tool: 'create_kubernetes_cluster' });
    expect(t.notes.length).toBeGreaterThan(0);
    const plan = await ok(client, t.tool, t.arguments);
    expect(plan).toMatchObject({ dry_run: true, outcome: 'planned', provider: 'gke' });
  });

  it('gives init_ray_cluster arguments for KubeRay, and a basic EKS template', async () => {
    const { client } = await start();
    expect(await ok(client, 'get_cloud_config_template', { provider: 'kubernetes' })).toMatchObject({
      provider: 'kuberay',
      tool: 'init_ray_cluster',
    });
    expect(
      await ok(client, 'get_cloud_config_template', { provider: 'aws', template_type: 'cpu' }),
    ).toMatchObject({
      provider: 'eks',
      template_type: 'basic',
    });
  });

  it('refuses an unknown provider or template type', async () => {
    const { client } = await start();
    await refused(client, 'get_cloud_config_template', { provider: 'azure' }, invalidArg('provider'));
    await refused(
      client,
      'get_cloud_config_template',
      { provider: 'gke', template_type: 'huge' },
      invalidArg('template_type'),
    );
  });
});

describe('create_kubernetes_cluster', () => {
  it('plans a cluster with dry_run, unauthenticated, changing nothing', async () => {
    const { client, world } = await start();
    const r = await ok(client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: PROJECT,
      dry_run: true,
      cluster_spec: gkeSpec(),
    });
    expect(r).toMatchObject({
      dry_run: true,
      outcome: 'planned',
      name_check: 'not_checked',
      cluster_name: 'ray-gke',
      location: 'us-central1-a',
      project: PROJECT,
      cost: { control_plane_per_hour: expect.any(Number) },
    });
    expect(r.requests.createCluster).toBeDefined();
    expect(world.clouds.gke.clusters.size).toBe(0);
  });

  it('checks the name on a dry run when authenticated', async () => {
    const { client } = await start((w) => {
      gcp(w);
      w.clouds.addCluster('gke', 'ours', { managed_by_ray_mcp: true });
      w.clouds.addCluster('gke', 'theirs');
    });
    await ok(client, 'authenticate_cloud_provider', { provider: 'gke' });
    const free = await ok(client, 'create_kubernetes_cluster', {
      provider: 'gke',
      dry_run: true,
      cluster_spec: gkeSpec('new-one'),
    });
    expect(free.name_check).toBe('available');
    const mine = await ok(client, 'create_kubernetes_cluster', {
      provider: 'gke',
      dry_run: true,
      cluster_spec: gkeSpec('ours'),
    });
    expect(mine).toMatchObject({ name_check: 'exists_managed', cluster: { name: 'ours' } });
    await refused(
      client,
      'create_kubernetes_cluster',
      { provider: 'gke', dry_run: true, cluster_spec: gkeSpec('theirs') },
      /A cluster named theirs already exists .* not created by ray-mcp/,
      /Fix: Pick another name/,
    );
  });

  it('starts a creation and returns its operation; asking again finds it under way', async () => {
    const { client, world } = await start(gcp);
    const r = await ok(client, 'create_kubernetes_cluster', { provider: 'gke', cluster_spec: gkeSpec() });
    expect(r).toMatchObject({
      dry_run: false,
      outcome: 'started',
      operation: {
        operation_id: `create:gke:${PROJECT}/us-central1-a/ray-gke`,
        status: 'running',
        ended: false,
      },
    });
    expect(world.clouds.gke.clusters.get('ray-gke')).toMatchObject({
      ready: false,
      managed_by_ray_mcp: true,
    });
    const again = await ok(client, 'create_kubernetes_cluster', { provider: 'gke', cluster_spec: gkeSpec() });
    expect(again.outcome).toBe('already_running');
  });

  it('refuses specs the cloud would refuse, before calling it', async () => {
    const { client, world } = await start(aws);
    await refused(
      client,
      'create_kubernetes_cluster',
      { provider: 'gke', dry_run: true, cluster_spec: gkeSpec() },
      /No GCP project to create the cluster in/,
    );
    await refused(
      client,
      'create_kubernetes_cluster',
      { provider: 'eks', dry_run: true, cluster_spec: { name: 'ray-eks', region: 'us-east-1' } },
      /EKS needs role_arn, node_role_arn, subnet_ids/,
      /get_cloud_config_template/,
    );
    await refused(
      client,
      'create_kubernetes_cluster',
      { provider: 'gke', cluster_spec: { name: 'Bad' } },
      invalidArg('name'),
    );
    await refused(
      client,
      'create_kubernetes_cluster',
      { provider: 'gke', cluster_spec: gkeSpec() },
      /No GCP credentials/,
    );
    expect(world.clouds.gke.clusters.size + world.clouds.eks.clusters.size).toBe(0);
  });
});

describe('get_cloud_operation', () => {
  const started = async () => {
    const s = await start(gcp);
    const r = await ok(s.client, 'create_kubernetes_cluster', { provider: 'gke', cluster_spec: gkeSpec() });
    return { ...s, id: r.operation.operation_id as string };
  };

  it('shows a creation under way, and waits until it is done', async () => {
    const { client, world, id } = await started();
    expect(await ok(client, 'get_cloud_operation', { operation_id: id })).toMatchObject({
      status: 'running',
      ended: false,
    });
    setTimeout(() => world.clouds.finishCreation('gke', 'ray-gke'), 20);
    const done = await ok(client, 'get_cloud_operation', { operation_id: id, wait_seconds: 5 });
    expect(done).toMatchObject({ operation_id: id, status: 'done', ended: true, cluster_name: 'ray-gke' });
    expect(done.waited_seconds).toBeLessThan(5);
  });

  it('reports a creation that failed, with the error', async () => {
    const { client, world, id } = await started();
    world.clouds.finishCreation('gke', 'ray-gke', false);
    const res = await client.callTool({
      name: 'get_cloud_operation',
      arguments: { operation_id: id, wait_seconds: 5 },
    });
    expect(res.structuredContent).toMatchObject({ status: 'failed', ended: true, error: 'quota exceeded' });
    expect(textOf(res)).toMatch(/Creating ray-gke failed: quota exceeded/);
  });

  it('refuses an unknown or malformed operation id', async () => {
    const { client } = await start();
    await refused(
      client,
      'get_cloud_operation',
      { operation_id: 'create:gke:p/l/nope' },
      /No operation create:gke:p\/l\/nope/,
    );
    await refused(client, 'get_cloud_operation', { operation_id: 'op-123' }, invalidArg('operation_id'));
  });
});
