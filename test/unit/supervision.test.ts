/**
 * Supervision, in process: each kind of actor is made to fail (its logic wrapped so that one event
 * throws inside it, as a bug would), and the server keeps answering other tools, the tools that
 * read the failed actor say so, and the restarted actor works again. Real system and MCP server
 * over InMemoryTransport; I/O actors are test/helpers/fake-world.ts fakes.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyActorLogic, EventObject } from 'xstate';
import type { ChildWrappers } from '../../src/actors/system.js';
import { FakeWorld } from '../helpers/fake-world.js';
import { type InMemoryServer, startInMemoryServer, textOf } from '../helpers/mcp.js';

/** The logic, except that the first `times` events matching `when` throw inside the actor. */
function failing(logic: AnyActorLogic, when: (event: EventObject) => boolean, times = 1): AnyActorLogic {
  let left = times;
  const wrapped = Object.create(logic) as AnyActorLogic;
  wrapped.transition = (snapshot, event, scope) => {
    if (left > 0 && when(event)) {
      left--;
      throw new Error('injected failure');
    }
    return logic.transition(snapshot, event, scope);
  };
  return wrapped;
}

const is = (type: string) => (event: EventObject) => event.type === type;

const open: InMemoryServer[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()));
});

async function start(wrap: ChildWrappers, setup?: (world: FakeWorld) => void) {
  const world = new FakeWorld();
  setup?.(world);
  const server = await startInMemoryServer({ requestTimeout: '5' }, {}, { actors: world.actors, wrap });
  open.push(server);
  return { world, server, client: server.client };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const res = await client.callTool({ name, arguments: args }, { timeout: 10_000 });
  return {
    isError: res.isError === true,
    text: textOf(res),
    // biome-ignore lint/suspicious/noExplicitAny: tool results are checked field by field
    structured: res.structuredContent as Record<string, any>,
  };
}

/** Calls until the tool answers without an error (the restart is 0.5 s after the first failure). */
async function eventually(client: Client, name: string, args: Record<string, unknown> = {}) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await call(client, name, args);
    if (!res.isError || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('supervision: a failing actor never ends the server', () => {
  it('environment: the call it breaks reports the failure, others answer, the restarted actor works', async () => {
    const { client, server } = await start({ environment: (l) => failing(l, is('env.check')) });
    const broken = await call(client, 'check_environment');
    expect(broken.isError).toBe(true);
    expect(broken.text).toMatch(/environment failed/i);
    // The rest of the server is unaffected.
    expect((await call(client, 'list_ray_clusters')).isError).toBe(false);
    expect((await call(client, 'get_cloud_provider_status')).isError).toBe(false);
    const failure = server.app.system.root.getSnapshot().context.failures.environment;
    expect(failure).toMatchObject({
      count: 1,
      error: { message: expect.stringMatching(/injected failure/) },
    });
    const again = await eventually(client, 'check_environment');
    expect(again.isError, again.text).toBe(false);
    expect(server.app.system.root.getSnapshot().context.failures.environment?.state).toBe('restarted');
  });

  it('a request whose flow throws answers with an error; the next request works', async () => {
    let n = 0;
    const { client } = await start({
      operation: (l) => {
        const wrapped = Object.create(l) as AnyActorLogic;
        wrapped.start = (state, scope) => {
          if (n++ === 0) throw new Error('flow exploded');
          return l.start?.(state, scope);
        };
        return wrapped;
      },
    });
    const first = await call(client, 'list_ray_clusters');
    expect(first.isError).toBe(true);
    expect(first.text).toMatch(/flow exploded/);
    expect((await call(client, 'list_ray_clusters')).isError).toBe(false);
  });

  it('a cloud connection that fails is reported, then restarted with its state fresh', async () => {
    const { client, server } = await start({ cloudConnection: (l) => failing(l, is('cloud.detect')) });
    const broken = await call(client, 'detect_cloud_provider', { provider: 'gke' });
    expect(broken.isError).toBe(true);
    // Between the failure and the restart the tools that read it say what happened.
    const status = await call(client, 'get_cloud_provider_status', { provider: 'gke' });
    if (status.isError) expect(status.text).toMatch(/GKE connection actor failed .*restarted/i);
    const again = await eventually(client, 'detect_cloud_provider', { provider: 'gke' });
    expect(again.isError, again.text).toBe(false);
    expect(server.app.system.root.getSnapshot().context.failures['cloud:gke']?.count).toBe(1);
    // EKS never noticed.
    expect(server.app.system.root.getSnapshot().context.failures['cloud:eks']).toBeUndefined();
  });

  it('a local cluster actor that fails is adopted again from its last record: same processes, still usable', async () => {
    let armed = false;
    const { client, world, server } = await start({
      localCluster: (l) => failing(l, (e) => armed && e.type === 'cluster.describe'),
    });
    const started = await call(client, 'init_ray_cluster', { cluster_name: 'c1' });
    expect(started.isError, started.text).toBe(false);
    const pids = world.ray.processesOf('c1').map((p) => p.pid);
    expect(pids.length).toBeGreaterThan(0);
    armed = true;
    const broken = await call(client, 'inspect_ray_cluster', { cluster_id: 'c1' });
    expect(broken.isError).toBe(true);
    armed = false;
    // Until it is back (0.5 s), the tools that need it say what happened.
    const down = await call(client, 'inspect_ray_cluster', { cluster_id: 'c1' });
    if (down.isError)
      expect(down.text).toMatch(/actor of cluster c1 failed .*injected failure.* being restarted/);
    // While its actor is down, the list says so; other tools keep working meanwhile.
    const listed = await call(client, 'list_ray_clusters');
    expect(listed.structured.clusters).toContainEqual(expect.objectContaining({ cluster_id: 'c1' }));
    const row = listed.structured.clusters.find((r: { cluster_id: string }) => r.cluster_id === 'c1');
    expect(['failed', 'starting', 'running']).toContain(row.status);
    expect((await call(client, 'check_environment')).isError).toBe(false);
    const again = await eventually(client, 'inspect_ray_cluster', { cluster_id: 'c1' });
    expect(again.isError, again.text).toBe(false);
    expect(again.structured.status).toBe('running');
    // Adopted, not restarted: the node processes are the same ones.
    expect(world.ray.processesOf('c1').map((p) => p.pid)).toEqual(pids);
    expect(server.app.system.root.getSnapshot().context.failures['cluster:c1']?.state).toBe('restarted');
    const stopped = await call(client, 'stop_ray_cluster', { cluster_id: 'c1' });
    expect(stopped.isError, stopped.text).toBe(false);
    expect(world.ray.processesOf('c1')).toEqual([]);
  });

  it('a jobs actor that fails is restarted and serves the cluster again', async () => {
    let armed = false;
    const { client } = await start({ jobs: (l) => failing(l, (e) => armed && e.type === 'jobs.refresh') });
    expect((await call(client, 'init_ray_cluster', { cluster_name: 'c2' })).isError).toBe(false);
    armed = true;
    const broken = await call(client, 'list_ray_jobs', { cluster_id: 'c2' });
    expect(broken.isError).toBe(true);
    armed = false;
    expect((await call(client, 'inspect_ray_cluster', { cluster_id: 'c2' })).isError).toBe(false);
    const again = await eventually(client, 'list_ray_jobs', { cluster_id: 'c2' });
    expect(again.isError, again.text).toBe(false);
    expect(again.structured.total).toBe(0);
  });

  it('a Kubernetes connection that fails is restarted and connects again', async () => {
    let armed = false;
    const { client, server } = await start(
      { kubeConnection: (l) => failing(l, (e) => armed && e.type === 'kube.describe') },
      (w) => w.kube.addContext('dev'),
    );
    expect((await call(client, 'connect_kubernetes_cluster', { context: 'dev' })).isError).toBe(false);
    armed = true;
    const broken = await call(client, 'get_kubernetes_cluster_info', { context: 'dev' });
    expect(broken.isError).toBe(true);
    armed = false;
    const again = await eventually(client, 'get_kubernetes_cluster_info', { context: 'dev' });
    expect(again.isError, again.text).toBe(false);
    expect(again.structured.connection.status).toBe('connected');
    expect(server.app.system.root.getSnapshot().context.failures['kube:dev']?.count).toBe(1);
  });

  it('the ports allocator is restarted after a failure, and clusters start again', async () => {
    const { client, server } = await start({ ports: (l) => failing(l, is('ports.release')) });
    // Make it fail directly: a release nobody asked for in this test.
    const ports = server.app.system.get('ports')!;
    ports.send({ type: 'ports.release', requestId: 'x', owner: 'nobody' });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.app.system.root.getSnapshot().context.failures.ports?.count).toBe(1);
    expect((await call(client, 'list_ray_clusters')).isError).toBe(false);
    await new Promise((r) => setTimeout(r, 700));
    expect(server.app.system.get('ports')?.getSnapshot().status).toBe('active');
  });
});

describe('supervision: what is done goes', () => {
  it('request actors leave no child behind, answered or failed', async () => {
    const { client, server } = await start({});
    for (let i = 0; i < 20; i++) await call(client, 'list_ray_clusters');
    await call(client, 'inspect_ray_cluster', { cluster_id: 'nope' });
    const children = Object.keys(server.app.system.root.getSnapshot().children);
    expect(children.filter((id) => id.startsWith('request:'))).toEqual([]);
  });
});
