/**
 * Confirmation on real Ray, through the built server over stdio with a client without elicitation:
 * stopping a cluster with a running job returns a preview naming the job and a confirm_token;
 * the same call with the token stops it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOk, type StdioServer, startStdioServer, textOf } from '../helpers/mcp.js';

let s: StdioServer;

beforeAll(async () => {
  s = await startStdioServer({ env: { RAY_MCP_CONFIRM: 'destructive' } });
  await callOk(s.client, 'init_ray_cluster', { cluster_name: 'confirm', num_cpus: 1 });
}, 240_000);

afterAll(async () => {
  const first = await s.client
    .callTool({ name: 'stop_ray_cluster', arguments: { cluster_id: 'confirm' } }, { timeout: 120_000 })
    .catch(() => undefined);
  const token = (first?.structuredContent as { confirmation?: { confirm_token?: string } } | undefined)
    ?.confirmation?.confirm_token;
  if (token)
    await callOk(s.client, 'stop_ray_cluster', { cluster_id: 'confirm', confirm_token: token }).catch(
      () => {},
    );
  await s.close();
}, 180_000);

describe('stop_ray_cluster with a running job', () => {
  it('previews first, then stops with the token', async () => {
    const job = await callOk<{ submission_id: string }>(s.client, 'submit_ray_job', {
      entrypoint: 'python -c "import time; time.sleep(300)"',
    });
    await expect
      .poll(
        async () =>
          (
            await callOk<{ status: string }>(s.client, 'inspect_ray_job', {
              submission_id: job.submission_id,
            })
          ).status,
        { timeout: 120_000, interval: 1000 },
      )
      .toBe('RUNNING');
    const first = await s.client.callTool({ name: 'stop_ray_cluster', arguments: {} }, { timeout: 120_000 });
    expect(first.isError).toBeFalsy();
    expect(textOf(first)).toMatch(
      new RegExp(`Not done yet: Stop local cluster confirm.*${job.submission_id}`),
    );
    const c = first.structuredContent as { status: string; confirmation: { confirm_token: string } };
    expect(c.status).toBe('running');
    const done = await callOk<{ status: string }>(s.client, 'stop_ray_cluster', {
      confirm_token: c.confirmation.confirm_token,
    });
    expect(done.status).toBe('stopped');
  }, 300_000);
});
