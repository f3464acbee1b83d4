/**
 * Prompts and the audit log in the built server over stdio, as a client runs it: prompts/list,
 * prompts/get with arguments (a fact that cannot be read becomes its error), a refused argument,
 * and the audit lines of calls that change something in the data dir. No Ray cluster is started.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type StdioServer, scratchDir, startStdioServer } from '../helpers/mcp.js';

const servers: StdioServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
});

describe('prompts and audit log over stdio', () => {
  it('serves the prompts and writes the audit log of changing calls', async () => {
    const dataDir = scratchDir('data');
    const s = await startStdioServer({ env: { RAY_MCP_DATA_DIR: dataDir } });
    servers.push(s);

    const { prompts } = await s.client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual([
      'diagnose_failed_job',
      'move_job_to_kuberay',
      'size_cluster_for_workload',
    ]);
    const diag = await s.client.getPrompt({ name: 'diagnose_failed_job', arguments: { job_id: 'train-7' } });
    const text = (diag.messages[0]!.content as { text: string }).text;
    expect(text).toMatch(/Job \(inspect_ray_job\): not read: /);
    expect(text).toMatch(/inspect_ray_job\(submission_id="train-7"\)/);
    const size = await s.client.getPrompt({
      name: 'size_cluster_for_workload',
      arguments: { workload: 'batch inference over 1M images on CPUs', target: 'local' },
    });
    expect((size.messages[0]!.content as { text: string }).text).toMatch(/init_ray_cluster arguments/);
    await expect(
      s.client.getPrompt({ name: 'move_job_to_kuberay', arguments: { namespace: 'ml' } }),
    ).rejects.toThrow(/job_id/);

    await s.client.callTool({ name: 'list_ray_clusters', arguments: {} });
    const cancel = await s.client.callTool({
      name: 'cancel_ray_job',
      arguments: { submission_id: 'train-7' },
    });
    expect(cancel.isError).toBe(true);
    const disconnect = await s.client.callTool({
      name: 'disconnect_cloud_provider',
      arguments: { provider: 'gke' },
    });
    expect(disconnect.isError).toBeFalsy();
    await s.close();
    servers.length = 0;

    const path = join(dataDir, 'audit.jsonl');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toMatchObject([
      {
        tool: 'cancel_ray_job',
        target: { submission_id: 'train-7' },
        args: { submission_id: 'train-7' },
        outcome: { result: 'error' },
      },
      { tool: 'disconnect_cloud_provider', target: { provider: 'gke' }, outcome: { result: 'ok' } },
    ]);
  });
});
