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
});
