/**
 * Clusters outlive their client (--on-exit=auto, the default), on real Ray over stdio: a cluster
 * with a running job is kept when the client quits and the next server adopts it; an idle one is
 * stopped. Waits fit clients without progress: wait_for_ray_job answers within the server's
 * --max-wait (short here) on a job that runs longer, and the same call again finishes the wait.
 * Whatever happens, the test stops what it kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { isAlive, listProcesses, waitFor } from '../helpers/processes.js';

type Row = { cluster_id: string; status: string };
type Job = { submission_id: string; status: string; ended?: boolean; waited_seconds?: number };

const started: StdioServer[] = [];

function dirs() {
  return { RAY_MCP_DATA_DIR: scratchDir('data'), RAY_MCP_TEMP_ROOT: scratchDir('t') };
}

async function serve(env: Record<string, string>): Promise<StdioServer> {
  const s = await startStdioServer({ env: { RAY_MCP_ON_EXIT: 'auto', ...env } });
  started.push(s);
  return s;
}

/**
 * The client quits: stdin closed, and the server given its time to exit (the SDK's close would
 * kill it after 4 s, before an idle cluster is stopped). Resolves once the server is gone.
 */
async function quit(s: StdioServer): Promise<void> {
  (s.transport as unknown as { _process?: { stdin?: { end(): void } } })._process?.stdin?.end();
  await waitFor('the server to exit', () => !isAlive(s.pid), 30_000, 200).catch(() => {});
  await s.close();
  await waitFor('the server to exit', () => !isAlive(s.pid), 30_000, 200);
}

const rayProcessesUnder = (tempRoot: string) => listProcesses().filter((p) => p.cmdline.includes(tempRoot));

afterEach(async () => {
  // Stop whatever a failed test kept: the last server of each data dir stops its clusters at exit.
  for (const s of started.splice(0)) await s.close().catch(() => {});
});

describe('exit policy auto', () => {
  it('keeps a cluster with a running job; the next server adopts it, reads its logs and stops it', async () => {
    const env = dirs();
    const first = await serve(env);
    try {
      await callOk(first.client, 'init_ray_cluster', { cluster_name: 'kept', num_cpus: 1 });
      await callOk(first.client, 'submit_ray_job', {
        entrypoint: 'python -c "import time; time.sleep(20); print(\'finished-marker\')"',
        submission_id: 'long-job',
      });
      await waitFor(
        'the job to run',
        async () =>
          (await callOk<Job>(first.client, 'inspect_ray_job', { submission_id: 'long-job' })).status ===
          'RUNNING',
        60_000,
        500,
      );
    } finally {
      await quit(first);
    }
    expect(first.stderr()).not.toMatch(/"level":(50|60)/);
    // The nodes still run, ray-mcp does not.
    expect(rayProcessesUnder(env.RAY_MCP_TEMP_ROOT).length).toBeGreaterThan(0);

    // Short waits, as a client without progress gets them.
    const next = await serve({ ...env, RAY_MCP_MAX_WAIT: '3' });
    try {
      const list = await waitFor(
        'the adopted cluster to be running',
        async () => {
          const l = await callOk<{ clusters: (Row & { note?: string })[] }>(next.client, 'list_ray_clusters');
          return l.clusters.find((c) => c.cluster_id === 'kept' && c.status === 'running') && l;
        },
        60_000,
        500,
      );
      const view = await callOk<{ note?: string }>(next.client, 'inspect_ray_cluster', {
        cluster_id: 'kept',
      });
      expect(view.note).toMatch(/Kept at exit: 1 job running/);
      expect(list.clusters).toHaveLength(1);

      // A wait that ends early is no error: the state so far, and how to go on.
      const t0 = Date.now();
      const early = await next.client.callTool(
        { name: 'wait_for_ray_job', arguments: { submission_id: 'long-job', timeout_seconds: 120 } },
        { timeout: 60_000 },
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(early.isError).toBeFalsy();
      expect(early.structuredContent).toMatchObject({ status: 'RUNNING', ended: false });
      expect(textOf(early)).toMatch(/call wait_for_ray_job again/);

      const done = await waitFor(
        'the job to end',
        async () => {
          const j = await callOk<Job>(next.client, 'wait_for_ray_job', {
            submission_id: 'long-job',
            timeout_seconds: 120,
          });
          return j.ended && j;
        },
        90_000,
        0,
      );
      expect(done.status).toBe('SUCCEEDED');
      const logs = await callOk<{ log: string }>(next.client, 'retrieve_logs', { submission_id: 'long-job' });
      expect(logs.log).toContain('finished-marker');
      await callOk(next.client, 'stop_ray_cluster', { cluster_id: 'kept' });
    } finally {
      await quit(next);
    }
    expect(rayProcessesUnder(env.RAY_MCP_TEMP_ROOT)).toEqual([]);
  }, 300_000);

  it('stops an idle cluster when its client quits', async () => {
    const env = dirs();
    const first = await serve(env);
    try {
      await callOk(first.client, 'init_ray_cluster', { cluster_name: 'idle', num_cpus: 1 });
    } finally {
      await quit(first);
    }
    expect(rayProcessesUnder(env.RAY_MCP_TEMP_ROOT)).toEqual([]);
    const next = await serve(env);
    try {
      const list = await callOk<{ clusters: Row[] }>(next.client, 'list_ray_clusters');
      expect(list.clusters).toEqual([]);
    } finally {
      await quit(next);
    }
  }, 180_000);
});
