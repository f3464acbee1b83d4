/**
 * Fast handler tests of the Ray Serve tools on a fake local cluster (test/helpers/fake-world.ts):
 * deploy (the declarative config Ray gets, on the head's allocated ports), update, list, a failed
 * deploy, delete; refusals for bad input and clusters Serve cannot use.
 */
import { describe, expect, it } from 'vitest';
import { fakeServers, invalidArg, ok, refused } from '../helpers/fake-server.js';
import type { FakeWorld } from '../helpers/fake-world.js';
import { textOf } from '../helpers/mcp.js';

const start = fakeServers();

async function withCluster(setup?: (w: FakeWorld) => void) {
  const s = await start(setup);
  const cluster = await ok(s.client, 'init_ray_cluster');
  return { ...s, url: cluster.dashboard_url as string };
}

describe('deploy_serve_app', () => {
  it('deploys an app on the head proxy port the allocator gave, and says where it answers', async () => {
    const { client, world, url } = await withCluster();
    const r = await ok(client, 'deploy_serve_app', {
      name: 'hello',
      import_path: 'app:app',
      deployments: [{ name: 'Hello', num_replicas: 2, num_cpus: 0.5 }],
    });
    const details = world.ray.serve.get(url)!;
    const port = details.http_options!.port!;
    expect(r).toMatchObject({
      cluster_id: 'local-1',
      ready: true,
      failed: false,
      app: {
        name: 'hello',
        status: 'RUNNING',
        route_prefix: '/hello',
        url: `http://127.0.0.1:${port}/hello`,
        healthy: true,
        deployments: [{ name: 'Hello', status: 'HEALTHY', target_replicas: 2, replicas: { RUNNING: 2 } }],
      },
    });
    expect(details.applications!.hello!.deployed_app_config).toEqual({
      name: 'hello',
      import_path: 'app:app',
      route_prefix: '/hello',
      deployments: [{ name: 'Hello', num_replicas: 2, ray_actor_options: { num_cpus: 0.5 } }],
    });
  });

  it('updates an app of the same name and keeps the others', async () => {
    const { client, world, url } = await withCluster();
    await ok(client, 'deploy_serve_app', { name: 'a', import_path: 'a:app' });
    await ok(client, 'deploy_serve_app', { name: 'b', import_path: 'b:app' });
    const r = await ok(client, 'deploy_serve_app', {
      name: 'a',
      import_path: 'a2:app',
      deployments: [{ name: 'A', num_replicas: 3 }],
    });
    expect(r.app).toMatchObject({ import_path: 'a2:app', deployments: [{ replicas: { RUNNING: 3 } }] });
    expect(Object.keys(world.ray.serve.get(url)!.applications!).sort()).toEqual(['a', 'b']);
  });

  it("reports a failed deploy with Ray's message, bounded and marked untrusted", async () => {
    const { client } = await withCluster();
    const res = await client.callTool({
      name: 'deploy_serve_app',
      arguments: { name: 'bad', import_path: 'broken_mod:app' },
    });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({
      ready: false,
      failed: true,
      app: { status: 'DEPLOY_FAILED', message: expect.stringContaining("No module named 'broken_mod'") },
    });
    expect(textOf(res)).toMatch(/FAILED[\s\S]*untrusted/);
  });

  it('refuses a bad import path, replicas with autoscaling, and a cluster that is not local', async () => {
    const { client } = await withCluster((w) => w.ray.addExternal('http://10.0.0.9:8265'));
    await refused(client, 'deploy_serve_app', { import_path: 'no colon here' }, invalidArg('import_path'));
    await refused(
      client,
      'deploy_serve_app',
      {
        import_path: 'app:app',
        deployments: [{ name: 'A', num_replicas: 1, autoscaling: { min_replicas: 1, max_replicas: 2 } }],
      },
      /num_replicas or autoscaling/,
    );
    await refused(client, 'deploy_serve_app', { import_path: 'app:app', bogus: 1 }, invalidArg('bogus'));
    await ok(client, 'init_ray_cluster', { address: 'http://10.0.0.9:8265' });
    await refused(
      client,
      'deploy_serve_app',
      { import_path: 'app:app', cluster_id: 'ext-2' },
      /local clusters/,
    );
  });

  it('refuses when there is no cluster', async () => {
    const { client } = await start();
    await refused(client, 'deploy_serve_app', { import_path: 'app:app' }, /no current cluster/i);
  });
});

describe('list_serve_apps', () => {
  it('lists apps with replicas and URLs, or one by name', async () => {
    const { client } = await withCluster();
    const empty = await client.callTool({ name: 'list_serve_apps', arguments: {} });
    expect(empty.structuredContent).toMatchObject({ running: false, apps: [] });
    expect(textOf(empty)).toMatch(/not running/);
    await ok(client, 'deploy_serve_app', { name: 'a', import_path: 'a:app' });
    await ok(client, 'deploy_serve_app', { name: 'b', import_path: 'b:app', route_prefix: '/' });
    const all = await ok(client, 'list_serve_apps');
    expect(all.running).toBe(true);
    expect(all.apps.map((a: { name: string }) => a.name).sort()).toEqual(['a', 'b']);
    const one = await ok(client, 'list_serve_apps', { name: 'b' });
    expect(one.apps).toHaveLength(1);
    expect(one.apps[0].url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('refuses an unknown app and a bad name', async () => {
    const { client } = await withCluster();
    await ok(client, 'deploy_serve_app', { name: 'a', import_path: 'a:app' });
    await refused(client, 'list_serve_apps', { name: 'nope' }, /No Serve application nope/, /a\./);
    await refused(client, 'list_serve_apps', { name: '../x' }, invalidArg('name'));
  });
});

describe('delete_serve_app', () => {
  it('deletes one app, then the last one shuts Serve down; again is a no-op', async () => {
    const { client, world, url } = await withCluster();
    await ok(client, 'deploy_serve_app', { name: 'a', import_path: 'a:app' });
    await ok(client, 'deploy_serve_app', { name: 'b', import_path: 'b:app' });
    expect(await ok(client, 'delete_serve_app', { name: 'a' })).toMatchObject({
      deleted: true,
      serve_stopped: false,
      remaining: ['b'],
    });
    expect(await ok(client, 'delete_serve_app', { name: 'b' })).toMatchObject({
      deleted: true,
      serve_stopped: true,
      remaining: [],
    });
    expect(world.ray.serve.has(url)).toBe(false);
    const again = await client.callTool({ name: 'delete_serve_app', arguments: { name: 'b' } });
    expect(again.structuredContent).toMatchObject({ deleted: false });
    expect(textOf(again)).toMatch(/nothing to delete/);
  });

  it('refuses without a name', async () => {
    const { client } = await withCluster();
    await refused(client, 'delete_serve_app', {}, invalidArg('name'));
  });
});
