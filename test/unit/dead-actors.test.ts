/**
 * Dead actors do not pile up: the real actor system (machines, supervisor, flows, tool handlers)
 * over fakes from test/helpers/fake-world.ts, counting live actors and the sizes of the
 * supervisor's registries after hundreds of requests that fail or finish. Each connect to a
 * context that does not exist once left a `kube:<context>` actor in `failed` for good (with its
 * target, its error and its place in `connections`), so memory grew with every call.
 */
import { describe, expect, it } from 'vitest';
import { fakeServers, ok } from '../helpers/fake-server.js';
import { textOf } from '../helpers/mcp.js';

const start = fakeServers();
const CALLS = 500;

describe('dead actors', () => {
  it(`${CALLS} connects to contexts that do not exist leave no actor, connection or target behind`, async () => {
    const { client, server, world } = await start((w) => w.kube.addContext('kind-dev'));
    const system = server.app.system;
    await ok(client, 'connect_kubernetes_cluster', { context: 'kind-dev' });
    const before = system.stats();
    const long = 'x'.repeat(2000);
    for (let i = 0; i < CALLS; i++) {
      const res = await client.callTool({
        name: 'connect_kubernetes_cluster',
        arguments: { context: `nope-${i}-${long}` },
      });
      expect(res.isError).toBe(true);
      if (i === 0) expect(textOf(res)).toMatch(/No (kubeconfig )?context (named )?nope-0/);
    }
    const after = system.stats();
    expect(after.actors).toBe(before.actors);
    expect(after.byKind.kube).toBe(1);
    expect(after.byKind.request ?? 0).toBe(0);
    expect(after.connections).toBe(1);
    expect(after.kubeClients).toBe(before.kubeClients);
    const supervisor = system.root.getSnapshot().context;
    expect(Object.keys(supervisor.kubeTargets)).toEqual(['kind-dev']);
    // Connection actors run under slot ids, not `kube:<context>`: a child's id is in the type of its
    // done/error event, and XState memoizes transitions per event type for the machine's lifetime
    // (one entry per context name tried, which held every long name for good).
    expect(supervisor.kubeActors).toEqual({ 'kind-dev': 'kube#0' });
    const kubeChildren = Object.keys(system.root.getSnapshot().children).filter((k) => k.startsWith('kube'));
    expect(kubeChildren).toEqual(['kube#0']);
    // The reasons of the newest few are kept (bounded), so a list still says they failed.
    expect(after.endedConnections).toBeLessThanOrEqual(20);
    expect(JSON.stringify(supervisor).length).toBeLessThan(100_000);

    const listed = await ok(client, 'list_kubernetes_clusters');
    expect(listed.contexts).toEqual([expect.objectContaining({ name: 'kind-dev', connection: 'connected' })]);
    // The connection that works is untouched, and a context that appears later connects.
    world.kube.addContext('late');
    await ok(client, 'connect_kubernetes_cluster', { context: 'late' });
    expect(system.stats().connections).toBe(2);
  });

  it('finished and failed requests leave no request actor behind', async () => {
    const { client, server } = await start();
    const system = server.app.system;
    const before = system.stats();
    for (let i = 0; i < 200; i++) {
      await client.callTool({ name: 'list_ray_clusters', arguments: {} });
      await client.callTool({ name: 'inspect_ray_cluster', arguments: { cluster_id: `missing-${i}` } });
    }
    const after = system.stats();
    expect(after.byKind.request ?? 0).toBe(0);
    expect(after.actors).toBe(before.actors);
    expect(after.failures).toBe(before.failures);
  });

  it('stopped clusters beyond the newest 10 leave with their jobs actors', async () => {
    const { client, server, world } = await start();
    const system = server.app.system;
    const before = system.stats();
    for (let i = 0; i < 30; i++) {
      const url = `http://10.9.${i}.1:8265`;
      world.ray.addExternal(url);
      const { cluster_id } = await ok(client, 'init_ray_cluster', { address: url });
      const { submission_id } = await ok(client, 'submit_ray_job', {
        cluster_id,
        entrypoint: 'python job.py',
      });
      world.ray.endJob(submission_id, 'SUCCEEDED');
      await ok(client, 'wait_for_ray_job', { cluster_id, submission_id, timeout_seconds: 10 });
      await ok(client, 'stop_ray_cluster', { cluster_id });
    }
    const after = system.stats();
    expect(after.clusters).toBe(10);
    expect(after.byKind.cluster).toBe(10);
    expect(after.byKind.jobs).toBe(10);
    // Each kept stopped cluster keeps the actor of its one ended job.
    expect(after.actors).toBeLessThanOrEqual(before.actors + 30);
    const listed = await ok(client, 'list_ray_clusters');
    expect(JSON.stringify(listed)).toContain('ext-30');
    expect(JSON.stringify(listed)).not.toContain('"ext-1"');
  });

  it('ended jobs keep at most 50 actors per cluster, and jobs deleted from the cluster go', async () => {
    const { client, server, world } = await start((w) => w.ray.addExternal('http://10.8.0.1:8265'));
    const system = server.app.system;
    const { cluster_id } = await ok(client, 'init_ray_cluster', { address: 'http://10.8.0.1:8265' });
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const { submission_id } = await ok(client, 'submit_ray_job', {
        cluster_id,
        entrypoint: `python ${i}.py`,
      });
      world.ray.endJob(submission_id, 'SUCCEEDED');
      ids.push(submission_id);
    }
    await ok(client, 'list_ray_jobs', { cluster_id });
    expect(system.stats().byKind.job).toBeLessThanOrEqual(50);
    expect(Object.keys(system.jobs(cluster_id)!.getSnapshot().context.jobs)).toHaveLength(120);
    // The cluster forgets them (as after `ray job delete`): the next full list drops them.
    for (const id of ids) world.ray.jobs.delete(id);
    await ok(client, 'list_ray_jobs', { cluster_id });
    expect(Object.keys(system.jobs(cluster_id)!.getSnapshot().context.jobs)).toHaveLength(0);
    expect(system.stats().byKind.job ?? 0).toBe(0);
  });
});
