/**
 * Local clusters end to end: a real MCP client, the built server, real Ray.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/domain/cluster.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { listProcesses, waitFor } from '../helpers/processes.js';

const servers: StdioServer[] = [];
const tempRoots: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
  // A failed assertion must not leave a cluster behind: kill whatever still runs under our roots.
  for (const root of tempRoots.splice(0)) {
    await waitFor(
      'the servers to stop their clusters',
      () => !listProcesses().some((p) => p.cmdline.includes(root)),
      30_000,
    ).catch(() => {
      for (const p of listProcesses()) if (p.cmdline.includes(root)) process.kill(p.pid, 'SIGKILL');
    });
  }
});

async function start(opts: Parameters<typeof startStdioServer>[0] = {}) {
  const env = { RAY_MCP_TEMP_ROOT: scratchDir('t'), ...opts.env };
  tempRoots.push(env.RAY_MCP_TEMP_ROOT);
  const s = await startStdioServer({ ...opts, env });
  servers.push(s);
  return s;
}

/** Processes of one cluster: everything whose command line mentions its session. */
const clusterProcesses = (session: string) => listProcesses().filter((p) => p.cmdline.includes(session));

async function dashboardAnswers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/api/gcs_healthz`)).status === 200;
  } catch {
    return false;
  }
}

describe('local clusters', () => {
  it('starts with progress, inspects, scales, and stops leaving nothing behind', async () => {
    const s = await start();
    const progress: { progress: number; message?: string }[] = [];
    const result = await s.client.callTool(
      {
        name: 'init_ray_cluster',
        arguments: {
          num_cpus: 1,
          object_store_memory: 100_000_000,
          worker_nodes: [{ count: 1, num_cpus: 1 }],
        },
      },
      { timeout: 180_000, onprogress: (p) => progress.push(p) },
    );
    expect(result.isError, textOf(result)).toBeFalsy();
    const view = result.structuredContent as ClusterView;
    expect(view).toMatchObject({
      cluster_id: 'local-1',
      kind: 'local',
      status: 'running',
      ray_version: '2.60.0',
    });
    expect(view.dashboard_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(view.nodes.map((n) => [n.name, n.alive])).toEqual([
      ['head', true],
      ['worker-1', true],
    ]);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
    expect(await dashboardAnswers(view.dashboard_url!)).toBe(true);
    expect(clusterProcesses(view.session_name!).length).toBeGreaterThan(0);

    const inspected = await callOk<
      ClusterView & { details: { usage: Record<string, unknown>; jobs: object } }
    >(s.client, 'inspect_ray_cluster');
    expect(inspected.status).toBe('running');
    expect(inspected.details.usage.CPU).toEqual({ used: 0, total: 2 });
    expect(inspected.nodes.every((n) => n.node_id && n.resources_total)).toBe(true);

    const up = await callOk<ClusterView>(s.client, 'scale_ray_cluster', { workers: 2 });
    expect(up.nodes.filter((n) => n.node_type === 'worker' && n.alive)).toHaveLength(2);
    const down = await callOk<ClusterView>(s.client, 'scale_ray_cluster', { workers: 0 });
    expect(down.status).toBe('running');
    expect(down.nodes.map((n) => n.name)).toEqual(['head']);

    const stopped = await callOk<ClusterView>(s.client, 'stop_ray_cluster', { cluster_id: 'local-1' });
    expect(stopped.status).toBe('stopped');
    expect(clusterProcesses(view.session_name!)).toEqual([]);
    expect(await dashboardAnswers(view.dashboard_url!)).toBe(false);
    // Idempotent.
    expect((await callOk<ClusterView>(s.client, 'stop_ray_cluster', { cluster_id: 'local-1' })).status).toBe(
      'stopped',
    );
  });

  it('runs two clusters side by side; stopping one leaves the other running', async () => {
    const s = await start();
    const [a, b] = await Promise.all([
      callOk<ClusterView>(s.client, 'init_ray_cluster', { cluster_name: 'alpha', num_cpus: 1 }),
      callOk<ClusterView>(s.client, 'init_ray_cluster', { cluster_name: 'beta', num_cpus: 1 }),
    ]);
    expect(a.dashboard_url).not.toBe(b.dashboard_url);
    expect(a.gcs_address).not.toBe(b.gcs_address);
    await callOk(s.client, 'stop_ray_cluster', { cluster_id: 'alpha' });
    expect(clusterProcesses(a.session_name!)).toEqual([]);
    expect(await dashboardAnswers(b.dashboard_url!)).toBe(true);
    const list = await callOk<{ clusters: { cluster_id: string; status: string }[]; current: string }>(
      s.client,
      'list_ray_clusters',
    );
    expect(list.clusters.map((c) => [c.cluster_id, c.status])).toEqual([
      ['alpha', 'stopped'],
      ['beta', 'running'],
    ]);
    expect(list.current).toBe('beta');
    // With no cluster named, tools act on the current one.
    expect((await callOk<ClusterView>(s.client, 'inspect_ray_cluster')).cluster_id).toBe('beta');
    await callOk(s.client, 'stop_ray_cluster');
    expect(clusterProcesses(b.session_name!)).toEqual([]);
  });

  it('shows a head killed from outside as failed, with its reason, within seconds', async () => {
    const s = await start();
    const view = await callOk<ClusterView>(s.client, 'init_ray_cluster', {
      num_cpus: 1,
      worker_nodes: [{ count: 1, num_cpus: 1 }],
    });
    const head = view.nodes.find((n) => n.name === 'head')!;
    process.kill(head.pid!, 'SIGKILL');
    const failed = await waitFor(
      'the cluster to show as failed',
      async () => {
        const list = await callOk<{ clusters: { status: string }[] }>(s.client, 'list_ray_clusters');
        return list.clusters[0]?.status === 'failed' && list;
      },
      15_000,
      250,
    );
    expect(failed).toBeTruthy();
    const inspected = await callOk<ClusterView>(s.client, 'inspect_ray_cluster');
    expect(inspected.error?.message).toMatch(/head node of cluster local-1 exited \(killed by SIGKILL\)/);
    // The rest of the cluster (its worker) was stopped with it.
    await waitFor('the worker to be gone', () => clusterProcesses(view.session_name!).length === 0, 30_000);
    await callOk(s.client, 'stop_ray_cluster');
  });

  it('adopts its clusters after a restart, and marks the ones that died meanwhile as stopped', async () => {
    const dataDir = scratchDir('data');
    const env = { RAY_MCP_DATA_DIR: dataDir, RAY_MCP_TEMP_ROOT: scratchDir('t') };
    const first = await start({ env, args: ['--on-exit', 'keep'] });
    const kept = await callOk<ClusterView>(first.client, 'init_ray_cluster', {
      cluster_name: 'kept',
      num_cpus: 1,
    });
    const doomed = await callOk<ClusterView>(first.client, 'init_ray_cluster', {
      cluster_name: 'doomed',
      num_cpus: 1,
    });
    await first.close();
    await waitFor(
      'the first server to exit',
      () => !listProcesses().some((p) => p.pid === first.pid),
      20_000,
    );
    expect(await dashboardAnswers(kept.dashboard_url!)).toBe(true);
    // One cluster dies while no server watches it.
    process.kill(-doomed.nodes[0]!.pid!, 'SIGKILL');
    await waitFor('doomed to be gone', () => clusterProcesses(doomed.session_name!).length === 0, 20_000);

    const second = await start({ env });
    const statuses = async () => {
      const list = await callOk<{ clusters: { cluster_id: string; status: string }[] }>(
        second.client,
        'list_ray_clusters',
      );
      return Object.fromEntries(list.clusters.map((c) => [c.cluster_id, c.status]));
    };
    // The dead one is cleaned up (stopping), then marked stopped.
    await waitFor('doomed to be marked stopped', async () => (await statuses()).doomed === 'stopped', 10_000);
    expect(await statuses()).toEqual({ kept: 'running', doomed: 'stopped' });
    const inspected = await callOk<ClusterView>(second.client, 'inspect_ray_cluster', { cluster_id: 'kept' });
    expect(inspected.status).toBe('running');
    expect(inspected.nodes[0]?.resources_total?.CPU).toBe(1);
    const gone = await callOk<ClusterView>(second.client, 'inspect_ray_cluster', { cluster_id: 'doomed' });
    expect(gone.note).toMatch(/exited while ray-mcp was not running/);
    await callOk(second.client, 'stop_ray_cluster', { cluster_id: 'kept' });
    expect(clusterProcesses(kept.session_name!)).toEqual([]);
  });

  it('starts three clusters concurrently without a port collision', async () => {
    const s = await start();
    const views = await Promise.all(
      [1, 2, 3].map(() => callOk<ClusterView>(s.client, 'init_ray_cluster', { num_cpus: 1 })),
    );
    expect(new Set(views.map((v) => v.cluster_id)).size).toBe(3);
    expect(new Set(views.map((v) => v.dashboard_url)).size).toBe(3);
    expect(views.every((v) => v.status === 'running')).toBe(true);
    await Promise.all(views.map((v) => callOk(s.client, 'stop_ray_cluster', { cluster_id: v.cluster_id })));
  });

  it('connects to a cluster it did not start; stop only disconnects', async () => {
    const s = await start();
    const local = await callOk<ClusterView>(s.client, 'init_ray_cluster', {
      cluster_name: 'host',
      num_cpus: 1,
    });
    const byUrl = await callOk<ClusterView>(s.client, 'init_ray_cluster', { address: local.dashboard_url });
    expect(byUrl).toMatchObject({ cluster_id: 'ext-1', kind: 'external', owned: false, status: 'running' });
    expect(byUrl.session_name).toBe(local.session_name);
    const byGcs = await callOk<ClusterView>(s.client, 'init_ray_cluster', { address: local.gcs_address });
    expect(byGcs.dashboard_url).toBe(local.dashboard_url);
    const stopped = await callOk<ClusterView>(s.client, 'stop_ray_cluster', { cluster_id: 'ext-1' });
    expect(stopped.status).toBe('stopped');
    expect(await dashboardAnswers(local.dashboard_url!)).toBe(true);
    await callOk(s.client, 'stop_ray_cluster', { cluster_id: byGcs.cluster_id });
    expect(await dashboardAnswers(local.dashboard_url!)).toBe(true);
    await callOk(s.client, 'stop_ray_cluster', { cluster_id: 'host' });
  });

  it('answers bad input with a clear error and keeps serving', async () => {
    const s = await start({ args: ['--port-range', '31000-31150'] });
    const bad = async (name: string, args: Record<string, unknown>, pattern: RegExp) => {
      const r = await s.client.callTool({ name, arguments: args }, { timeout: 120_000 });
      expect(r.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(r)).toMatch(pattern);
    };
    await bad('init_ray_cluster', { num_cpus: -1 }, /num_cpus/);
    await bad('init_ray_cluster', { resources: { CPU: 2 } }, /use num_cpus/);
    await bad('init_ray_cluster', { worker_nodes: [{ count: -2 }] }, /count/);
    await bad(
      'init_ray_cluster',
      { address: 'http://127.0.0.1:1', num_cpus: 1 },
      /resource options only apply/,
    );
    await bad('inspect_ray_cluster', { cluster_id: 'nope' }, /No cluster named nope/);
    await bad('stop_ray_cluster', {}, /no current cluster[\s\S]*init_ray_cluster/i);
    await bad('scale_ray_cluster', { workers: 1 }, /no current cluster/i);
    await bad('init_ray_cluster', { address: 'http://127.0.0.1:1' }, /cannot be reached/);
    // The range fits one head; a second cluster cannot get its ports.
    const one = await callOk<ClusterView>(s.client, 'init_ray_cluster', { num_cpus: 1 });
    await bad(
      'init_ray_cluster',
      { num_cpus: 1 },
      /No run of 100 free ports left in 31000-31150[\s\S]*--port-range/,
    );
    await bad('scale_ray_cluster', { workers: 1 }, /No run of 100 free ports/);
    expect(
      (await callOk<ClusterView>(s.client, 'inspect_ray_cluster', { cluster_id: one.cluster_id })).status,
    ).toBe('running');
    await callOk(s.client, 'stop_ray_cluster', { cluster_id: one.cluster_id });
  });

  it('says how to install Ray when it is missing, and leaves nothing running', async () => {
    const s = await start({ args: ['--ray-bin', '/nonexistent/bin/ray'] });
    const r = await s.client.callTool({ name: 'init_ray_cluster', arguments: {} });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/--ray-bin[\s\S]*npm run setup/);
    const list = await callOk<{ clusters: { status: string }[] }>(s.client, 'list_ray_clusters');
    expect(list.clusters.map((c) => c.status)).toEqual(['failed']);
  });

  it('stops its clusters when it exits with the default --on-exit=stop', async () => {
    const s = await start();
    const view = await callOk<ClusterView>(s.client, 'init_ray_cluster', { num_cpus: 1 });
    await s.close();
    await waitFor('the cluster to be gone', () => clusterProcesses(view.session_name!).length === 0, 30_000);
  });
});
