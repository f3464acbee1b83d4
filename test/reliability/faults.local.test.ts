/**
 * Faults against real Ray, through a real MCP client and the built server: a stalled dashboard, a
 * dead worker, a SIGKILLed server restarted over its clusters (one of which died meanwhile), a
 * dead head, and a state file that cannot be written (a full disk). One cluster carries most of
 * it, to keep the suite short. Figures go to the `faults` suite of docs/RELIABILITY.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/domain/cluster.js';
import { recordFigures } from '../helpers/figures.js';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { listProcesses, waitFor } from '../helpers/processes.js';

const servers: StdioServer[] = [];
const tempRoots: string[] = [];
const mounts: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
  for (const root of tempRoots.splice(0)) {
    await waitFor(
      'the servers to stop their clusters',
      () => !listProcesses().some((p) => p.cmdline.includes(root)),
      30_000,
    ).catch(() => {
      for (const p of listProcesses()) if (p.cmdline.includes(root)) process.kill(p.pid, 'SIGKILL');
    });
  }
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', [m]);
    } catch {}
  }
});

async function start(env: Record<string, string>, args: string[] = []) {
  tempRoots.push(env.RAY_MCP_TEMP_ROOT!);
  // A port block of its own: other servers on the machine probe the same default range.
  const from = 22_000 + Math.floor(Math.random() * 9) * 1000;
  const s = await startStdioServer({
    env: { RAY_MCP_LOG_LEVEL: 'warn', RAY_MCP_PORT_RANGE: `${from}-${from + 999}`, ...env },
    args,
  });
  servers.push(s);
  return s;
}

type Row = { cluster_id: string; status: string };
async function list(s: StdioServer) {
  return callOk<{ clusters: Row[]; current?: string }>(s.client, 'list_ray_clusters');
}
const statusIn = (rows: Row[], id: string) => rows.find((r) => r.cluster_id === id)?.status;
const onDisk = (dataDir: string) =>
  Object.fromEntries(
    (
      JSON.parse(readFileSync(join(dataDir, 'clusters.json'), 'utf8')) as {
        clusters: { id: string; status: string }[];
      }
    ).clusters.map((c) => [c.id, c.status]),
  );
const processesOf = (marker: string) => listProcesses().filter((p) => p.cmdline.includes(marker));

/** A tmpfs of `size` (root only); undefined where mounting is not allowed. */
function tinyDisk(size: string): string | undefined {
  const dir = scratchDir('disk');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    mounts.push(dir);
    return dir;
  } catch {
    return undefined;
  }
}

describe('faults on a local cluster', () => {
  it('survives a stalled dashboard, a dead worker, a SIGKILLed server, a cluster dying while it is away, and a dead head', async () => {
    const figures: Record<string, number | string | boolean> = {};
    const held: string[] = [];
    const dataDir = scratchDir('data');
    const env = { RAY_MCP_DATA_DIR: dataDir, RAY_MCP_TEMP_ROOT: scratchDir('t') };
    const first = await start(env, ['--on-exit', 'keep']);
    const main = await callOk<ClusterView>(first.client, 'init_ray_cluster', {
      cluster_name: 'main',
      num_cpus: 1,
      worker_nodes: [{ count: 1, num_cpus: 1 }],
    });
    // On disk before the answer arrived.
    expect(onDisk(dataDir)).toEqual({ main: 'running' });
    held.push('the state file said running as soon as init_ray_cluster answered');

    // 1. The dashboard stalls (SIGSTOP) for 15 s while a job runs and a wait_for_ray_job keeps the
    // jobs poller going; then it resumes. The stall outlasts a poll's 10 s timeout, so the poller
    // must fail, log it and retry, and never take the silence for the job's end.
    const port = new URL(main.dashboard_url!).port;
    const dashboard = listProcesses().find(
      (p) => p.cmdline.includes('dashboard/dashboard.py') && p.cmdline.includes(`--port=${port}`),
    );
    expect(dashboard, 'the dashboard process').toBeDefined();
    await callOk(first.client, 'submit_ray_job', { entrypoint: 'sleep 25', submission_id: 'survivor' });
    const waiting = callOk<{ status: string }>(first.client, 'wait_for_ray_job', {
      submission_id: 'survivor',
      timeout_seconds: 120,
    });
    const STALL_S = 15;
    process.kill(dashboard!.pid, 'SIGSTOP');
    const seen = new Set<string>();
    const stalledUntil = Date.now() + STALL_S * 1000;
    try {
      while (Date.now() < stalledUntil) {
        // A look may fail or time out while the dashboard is stopped; it must never say FAILED.
        const r = await first.client
          .callTool({ name: 'inspect_ray_job', arguments: { submission_id: 'survivor' } }, { timeout: 8000 })
          .catch(() => undefined);
        if (r && !r.isError) seen.add((r.structuredContent as { status: string }).status);
        await new Promise((res) => setTimeout(res, 500));
      }
    } finally {
      process.kill(dashboard!.pid, 'SIGCONT');
    }
    const ended = await waiting;
    expect(ended.status).toBe('SUCCEEDED');
    expect(seen.has('FAILED')).toBe(false);
    const retries = (first.stderr().match(/job poll failed; retrying/g) ?? []).length;
    expect(retries, 'poll failures logged during the stall').toBeGreaterThan(0);
    figures.dashboard_stall_seconds = STALL_S;
    figures.dashboard_stall_jobs_wrongly_failed = 0;
    figures.dashboard_stall_poll_retries_logged = retries;
    held.push(
      `a job running through a ${STALL_S} s dashboard stall, with wait_for_ray_job polling, ended SUCCEEDED, never shown FAILED (${retries} poll retries logged)`,
    );

    // 2. A worker dies: degraded, and the state file says so.
    const worker = main.nodes.find((n) => n.name !== 'head')!;
    process.kill(-worker.pid!, 'SIGKILL');
    const t0 = Date.now();
    await waitFor(
      'the cluster to degrade',
      async () => statusIn((await list(first)).clusters, 'main') === 'degraded',
      15_000,
      100,
    );
    figures.worker_death_to_degraded_ms = Date.now() - t0;
    expect(onDisk(dataDir)).toEqual({ main: 'degraded' });
    held.push('a killed worker made the cluster degraded, in the tools and on disk');

    // 3. A second cluster, then the server is SIGKILLed; that cluster dies while no server runs.
    const doomed = await callOk<ClusterView>(first.client, 'init_ray_cluster', {
      cluster_name: 'doomed',
      num_cpus: 1,
    });
    process.kill(first.pid, 'SIGKILL');
    await waitFor('the server to die', () => !listProcesses().some((p) => p.pid === first.pid), 10_000);
    expect(onDisk(dataDir)).toEqual({ main: 'degraded', doomed: 'running' });
    held.push('after the server was SIGKILLed the state file held every cluster with its true status');
    process.kill(-doomed.nodes[0]!.pid!, 'SIGKILL');
    await waitFor('doomed to be gone', () => processesOf(doomed.session_name!).length === 0, 20_000);

    // 4. Restart: main is adopted; doomed is stopped from the first look, never current.
    const second = await start(env);
    const looks: { doomed?: string; current?: string }[] = [];
    await waitFor(
      'main adopted and doomed stopped',
      async () => {
        const l = await list(second);
        looks.push({ doomed: statusIn(l.clusters, 'doomed'), current: l.current });
        return statusIn(l.clusters, 'main') === 'degraded' && statusIn(l.clusters, 'doomed') === 'stopped';
      },
      20_000,
      50,
    );
    // Never `stopping`; once its check is done (milliseconds) stopped, and then never current.
    expect(looks.some((l) => l.doomed === 'stopping')).toBe(false);
    const decided = looks.findIndex((l) => l.doomed === 'stopped');
    expect(decided).toBeGreaterThanOrEqual(0);
    expect(looks.slice(decided).every((l) => l.doomed === 'stopped' && l.current !== 'doomed')).toBe(true);
    const gone = await callOk<ClusterView>(second.client, 'inspect_ray_cluster', { cluster_id: 'doomed' });
    expect(gone.note).toMatch(/exited while ray-mcp was not running/);
    expect((await list(second)).current).toBe('main');
    figures.restart_adopted = 1;
    figures.restart_looks_before_dead_decided = decided;
    figures.restart_looks_dead_shown_stopping = 0;
    held.push(
      'after the restart main was adopted and current; doomed never read stopping, and once checked read stopped, never current',
    );

    // 5. The adopted head is SIGKILLed: failed with its reason within 5 s.
    const head = (
      await callOk<ClusterView>(second.client, 'inspect_ray_cluster', { cluster_id: 'main' })
    ).nodes.find((n) => n.name === 'head')!;
    process.kill(head.pid!, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(
      'main to fail',
      async () => statusIn((await list(second)).clusters, 'main') === 'failed',
      15_000,
      50,
    );
    const toFailed = Date.now() - killedAt;
    expect(toFailed).toBeLessThan(5000);
    const failed = await callOk<ClusterView>(second.client, 'inspect_ray_cluster', { cluster_id: 'main' });
    expect(failed.error?.message).toMatch(/head node of cluster main exited/);
    expect(failed.error?.log_dir).toBeTruthy();
    // Its logs are kept until the user stops it.
    expect(readFileSync(join(failed.error!.log_dir!, 'head.log'), 'utf8').length).toBeGreaterThan(0);
    figures.head_sigkill_to_failed_ms = toFailed;
    held.push(`a SIGKILLed head read failed with its reason after ${toFailed} ms (bound 5 s), logs kept`);
    await callOk(second.client, 'stop_ray_cluster', { cluster_id: 'main' });
    expect(() => readFileSync(join(failed.error!.log_dir!, 'head.log'))).toThrow();
    expect(processesOf(main.session_name!)).toEqual([]);

    recordFigures('faults', {
      tried: [
        'dashboard SIGSTOP for 15 s (longer than a poll timeout) then SIGCONT while a job runs and wait_for_ray_job polls',
        'worker SIGKILL',
        'server SIGKILL, a cluster killed while no server runs, server restart',
        'head SIGKILL on an adopted cluster',
      ],
      figures,
      held,
    });
  }, 300_000);

  it('a full disk or an unwritable data dir: a clear error, nothing started, nothing lost', async () => {
    const disk = tinyDisk('64k');
    const dataDir = disk ?? join(scratchDir('ro'), 'data');
    if (!disk) {
      // Without mount: a file where the data dir should be.
      writeFileSync(dataDir, 'not a directory');
    }
    const env = { RAY_MCP_DATA_DIR: dataDir, RAY_MCP_TEMP_ROOT: scratchDir('t') };
    let filler: string | undefined;
    if (disk) {
      // An old state file, then a full disk.
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'clusters.json'), '{"version":1,"clusters":[]}\n');
      filler = join(dataDir, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(1024 * 1024));
      } catch {}
    }
    const s = await start(env);
    const res = await s.client.callTool(
      { name: 'init_ray_cluster', arguments: { num_cpus: 1 } },
      { timeout: 60_000 },
    );
    expect(res.isError).toBe(true);
    const text = textOf(res);
    expect(text).toMatch(/cannot write its state file .*clusters\.json.*Nothing was started/);
    expect(text.length).toBeLessThan(1000);
    expect(processesOf(env.RAY_MCP_TEMP_ROOT)).toEqual([]);
    expect((await list(s)).clusters).toEqual([]);
    if (disk) {
      expect(readFileSync(join(dataDir, 'clusters.json'), 'utf8')).toBe('{"version":1,"clusters":[]}\n');
      rmSync(filler!, { force: true });
      // Retried every few seconds: once there is room, clusters start again.
      await waitFor(
        'the state file to be writable again',
        async () => {
          const r = await s.client.callTool({ name: 'list_ray_clusters', arguments: {} });
          return (
            !r.isError &&
            (() => {
              try {
                return JSON.parse(readFileSync(join(dataDir, 'clusters.json'), 'utf8')).version === 1;
              } catch {
                return false;
              }
            })()
          );
        },
        15_000,
        500,
      );
    }
    recordFigures('faults', {
      tried: [disk ? 'a full disk (64 KiB tmpfs) under the data dir' : 'a data dir that cannot be created'],
      figures: { state_file_unwritable_refused: 1, state_file_unwritable_processes_started: 0 },
      held: [
        'init_ray_cluster was refused with the reason and the fix; nothing started; the old state file intact',
      ],
    });
  });
});
