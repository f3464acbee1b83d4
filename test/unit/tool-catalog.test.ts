/**
 * Tools registered the bundle's way (src/mcp/tool-catalog.ts prebuiltCatalog): from the build's
 * cards and listed JSON Schemas, each tool's zod schemas and handler loaded on first use. Run from
 * source, with the build's own computeListed, through a real MCP client on the fake world (which
 * starts the system at once, and with it the tools' load): the same
 * tools/list, the same validation of arguments, the same confirmation, and a failed load answered
 * with a short error and tried again.
 */
import type { Client } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { computeListed } from '../../src/mcp/listed-schemas.js';
import { prebuiltCatalog } from '../../src/mcp/tool-catalog.js';
import { ALL_TOOLS } from '../../src/mcp/tools/index.js';
import { fakeServers, invalidArg, ok, refused } from '../helpers/fake-server.js';
import { textOf } from '../helpers/mcp.js';

const start = fakeServers();
const prebuilt = await computeListed(ALL_TOOLS);
const call = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args }, { timeout: 10_000 });

describe('tools from build-time cards', () => {
  it('list exactly what the tools from source list', async () => {
    const bundled = await start(
      undefined,
      {},
      prebuiltCatalog(prebuilt, async () => ALL_TOOLS),
    );
    const source = await start();
    expect((await bundled.client.listTools()).tools).toEqual((await source.client.listTools()).tools);
  });

  it('load the tools once (as the system starts), then validate arguments and answer calls', async () => {
    let loads = 0;
    const s = await start(
      undefined,
      {},
      prebuiltCatalog(prebuilt, async () => {
        loads++;
        return ALL_TOOLS;
      }),
    );
    await s.client.listTools();
    expect(loads).toBe(1);
    await refused(s.client, 'inspect_ray_job', { submission_id: 5 }, invalidArg('submission_id'));
    expect(loads).toBe(1);
    const listed = await ok(s.client, 'list_ray_clusters');
    expect(listed.clusters).toEqual([]);
    // The result passed the output schema (the SDK checks it): a started cluster's full view.
    const view = await ok(s.client, 'init_ray_cluster');
    expect(view).toMatchObject({ cluster_id: 'local-1', status: 'running' });
    expect(loads).toBe(1);
  });

  it('ask for a yes as from source: a stop with a running job gets a preview, then the token stops it', async () => {
    const s = await start(
      undefined,
      { confirm: 'destructive' },
      prebuiltCatalog(prebuilt, async () => ALL_TOOLS),
    );
    const view = await ok(s.client, 'init_ray_cluster');
    s.world.ray.addJob(view.dashboard_url, 'train-1', 'RUNNING');
    const first = await ok(s.client, 'stop_ray_cluster');
    expect(first.confirmation).toMatchObject({ status: 'needed', confirm_token: expect.any(String) });
    const done = await ok(s.client, 'stop_ray_cluster', { confirm_token: first.confirmation.confirm_token });
    expect(done).toMatchObject({ cluster_id: 'local-1', status: 'stopped' });
  });

  it('answer a call whose code did not load with a short error, and load again on the next', async () => {
    // The load the system start makes ahead of the first call fails, then the call's own.
    let failures = 2;
    const s = await start(
      undefined,
      {},
      prebuiltCatalog(prebuilt, async () => {
        if (failures-- > 0) throw new Error('EMFILE: too many open files');
        return ALL_TOOLS;
      }),
    );
    const failed = await call(s.client, 'list_ray_clusters');
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toMatch(
      /could not load this tool's code \(EMFILE: too many open files\); try the call again/,
    );
    expect(textOf(failed).length).toBeLessThan(400);
    expect((await ok(s.client, 'list_ray_clusters')).clusters).toEqual([]);
  });
});
