/**
 * Confirmation of destructive and billed calls (src/mcp/confirm.ts) and protection, through real
 * MCP clients over InMemoryTransport on the fake world: a client without elicitation (preview,
 * token, stale and forged tokens), one with form elicitation (accept, decline), and the audit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { checkToken, mintToken } from '../../src/mcp/confirm.js';
import { fakeServers, ok, refused } from '../helpers/fake-server.js';
import { FakeWorld } from '../helpers/fake-world.js';
import { scratchDir, startInMemoryServer, textOf } from '../helpers/mcp.js';

const start = fakeServers();
const DESTRUCTIVE = { confirm: 'destructive' };

async function runningCluster(
  flags: Record<string, string> = DESTRUCTIVE,
  init: Record<string, unknown> = {},
) {
  const s = await start(undefined, flags);
  const view = await ok(s.client, 'init_ray_cluster', init);
  s.world.ray.addJob(view.dashboard_url, 'train-1', 'RUNNING');
  return { ...s, url: view.dashboard_url as string };
}

const call = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args }, { timeout: 10_000 });

describe('confirm tokens', () => {
  it('are bound to the tool, the arguments, the state and an expiry', () => {
    const t = mintToken('stop_ray_cluster', { cluster_id: 'a' }, ['s1'], 0);
    expect(checkToken(t, 'stop_ray_cluster', { cluster_id: 'a' }, ['s1'], 1000)).toBe('ok');
    expect(checkToken(t, 'stop_ray_cluster', { cluster_id: 'a' }, ['s2'], 1000)).toBe('changed');
    expect(checkToken(t, 'stop_ray_cluster', { cluster_id: 'b' }, ['s1'], 1000)).toBe('changed');
    expect(checkToken(t, 'cancel_ray_job', { cluster_id: 'a' }, ['s1'], 1000)).toBe('changed');
    expect(checkToken(t, 'stop_ray_cluster', { cluster_id: 'a' }, ['s1'], 3_600_000)).toBe('expired');
    expect(checkToken('nonsense', 'stop_ray_cluster', {}, [], 0)).toBe('invalid');
  });
});

describe('a client without elicitation', () => {
  it('gets a preview first for stop with a running job (a Python ray-mcp call), then stops with the token', async () => {
    const { client, world } = await runningCluster();
    const first = await call(client, 'stop_ray_cluster');
    expect(first.isError).toBeFalsy();
    expect(textOf(first)).toMatch(/Not done yet: Stop local cluster local-1.*train-1 \(RUNNING\)/);
    const c = (first.structuredContent as { confirmation: Record<string, unknown> }).confirmation;
    expect(c).toMatchObject({ status: 'needed', confirm_token: expect.any(String) });
    expect(world.ray.processesOf('local-1').length).toBeGreaterThan(0);
    const done = await ok(client, 'stop_ray_cluster', { confirm_token: c.confirm_token });
    expect(done).toMatchObject({ cluster_id: 'local-1', status: 'stopped' });
    expect(done.confirmation).toBeUndefined();
  });

  it('refuses a token for a target that changed, with the new preview; and a forged one', async () => {
    const { client, world, url } = await runningCluster();
    const first = await ok(client, 'stop_ray_cluster');
    world.ray.addJob(url, 'train-2', 'RUNNING');
    const text = await refused(
      client,
      'stop_ray_cluster',
      { confirm_token: first.confirmation.confirm_token },
      /Nothing was done: the target changed/,
      /train-2/,
      /confirm_token="/,
    );
    expect(text).toMatch(/train-1/);
    await refused(client, 'stop_ray_cluster', { confirm_token: 'zzz.forged' }, /not one ray-mcp issued/);
    // A token for other arguments is no good either.
    await refused(
      client,
      'stop_ray_cluster',
      { cluster_id: 'local-1', confirm_token: first.confirmation.confirm_token },
      /changed/,
    );
    expect(world.ray.processesOf('local-1').length).toBeGreaterThan(0);
  });

  it('stops an idle cluster at once under destructive, but asks under always', async () => {
    const s = await start(undefined, DESTRUCTIVE);
    await ok(s.client, 'init_ray_cluster');
    expect(await ok(s.client, 'stop_ray_cluster')).toMatchObject({ status: 'stopped' });
    const a = await start(undefined, { confirm: 'always' });
    await ok(a.client, 'init_ray_cluster');
    expect((await ok(a.client, 'stop_ray_cluster')).confirmation).toMatchObject({ status: 'needed' });
  });

  it('previews scaling to zero while jobs run', async () => {
    const { client } = await runningCluster(DESTRUCTIVE, { worker_nodes: [{ count: 1, num_cpus: 1 }] });
    const r = await ok(client, 'scale_ray_cluster', { workers: 0 });
    expect(r.confirmation).toMatchObject({ status: 'needed', action: expect.stringMatching(/from 1 to 0/) });
    const done = await ok(client, 'scale_ray_cluster', {
      workers: 0,
      confirm_token: r.confirmation.confirm_token,
    });
    expect(done.confirmation).toBeUndefined();
    // Scaling up is not destructive.
    expect((await ok(client, 'scale_ray_cluster', { workers: 1 })).confirmation).toBeUndefined();
  });

  it('previews a real cloud cluster with its cost (Python ray-mcp arguments), not a dry run', async () => {
    const gcp = (w: FakeWorld) => {
      w.clouds.gke.identity = {
        method: 'application_default',
        principal: 'me@example.com',
        project: 'proj-123456',
      };
    };
    const { client } = await start(gcp, DESTRUCTIVE);
    const spec = {
      name: 'ray-gke',
      zone: 'us-central1-a',
      node_pools: [{ name: 'cpu', machine_type: 'e2-standard-8', node_count: 1 }],
    };
    const dry = await ok(client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: 'proj-123456',
      cluster_spec: spec,
      dry_run: true,
    });
    expect(dry.confirmation).toBeUndefined();
    const first = await call(client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: 'proj-123456',
      cluster_spec: spec,
    });
    expect(textOf(first)).toMatch(/Not done yet: Create GKE cluster ray-gke .*Cost: about \$/);
    const c = (first.structuredContent as { confirmation: { confirm_token: string } }).confirmation;
    const done = await ok(client, 'create_kubernetes_cluster', {
      provider: 'gke',
      project_id: 'proj-123456',
      cluster_spec: spec,
      confirm_token: c.confirm_token,
    });
    expect(done).toMatchObject({ dry_run: false, outcome: 'started' });
  });

  it('asks before deleting a RayJob, not before suspending it', async () => {
    const { client, world } = await start((w) => w.kube.addContext('kind-dev'), DESTRUCTIVE);
    await ok(client, 'submit_ray_job', { job_type: 'rayjob', entrypoint: 'python etl.py', rayjob: 'etl' });
    await world.settle();
    const first = await ok(client, 'cancel_ray_job', { rayjob: 'etl', mode: 'delete' });
    expect(first.confirmation).toMatchObject({
      status: 'needed',
      action: expect.stringMatching(/Delete RayJob default\/etl/),
    });
    const done = await ok(client, 'cancel_ray_job', {
      rayjob: 'etl',
      mode: 'delete',
      confirm_token: first.confirmation.confirm_token,
    });
    expect(done).toMatchObject({ mode: 'delete' });
  });

  it('records previews and refusals in the audit log', async () => {
    const dataDir = scratchDir('audit');
    const { client } = await runningCluster({ ...DESTRUCTIVE, dataDir });
    await ok(client, 'stop_ray_cluster');
    await refused(client, 'stop_ray_cluster', { confirm_token: 'zzz.forged' }, /not one/);
    await new Promise((r) => setTimeout(r, 200));
    const lines = readFileSync(join(dataDir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const stops = lines.filter((l) => l.tool === 'stop_ray_cluster');
    expect(stops.map((l) => [l.outcome.result, l.outcome.code])).toEqual([
      ['refused', 'unconfirmed'],
      ['refused', 'invalid_input'],
    ]);
    expect(JSON.stringify(stops)).not.toMatch(/zzz\.forged/);
  });
});

describe('protection', () => {
  it('refuses to stop a local cluster started with protected, whatever the policy', async () => {
    const { client, world } = await start(undefined, { confirm: 'never' });
    const v = await ok(client, 'init_ray_cluster', { protected: true });
    expect(v.protected).toBe(true);
    await refused(client, 'stop_ray_cluster', {}, /protected \(started with protected=true\)/);
    expect(world.ray.processesOf('local-1').length).toBeGreaterThan(0);
  });

  it('refuses to delete a RayCluster labelled ray-mcp/protected', async () => {
    const { client, world } = await start((w) => w.kube.addContext('kind-dev'), { confirm: 'never' });
    await ok(client, 'init_ray_cluster', { cluster_type: 'kubernetes', cluster_name: 'ray-a' });
    world.kube.putRayCluster('kind-dev', {
      namespace: 'default',
      name: 'ray-a',
      groups: [],
      protected: true,
    });
    await world.settle();
    await refused(
      client,
      'stop_ray_cluster',
      { cluster_id: 'ray-a' },
      /Delete RayCluster default\/ray-a.*protected/,
    );
  });

  it('refuses to delete a RayJob labelled ray-mcp/protected, even named explicitly, whatever the policy', async () => {
    const { client, world } = await start((w) => w.kube.addContext('kind-dev'), { confirm: 'never' });
    await ok(client, 'connect_kubernetes_cluster', { context: 'kind-dev' });
    world.kube.addRayJob('kind-dev', 'default', 'nightly', {
      deploymentStatus: 'Running',
      jobStatus: 'RUNNING',
      protected: true,
    });
    await world.settle();
    await refused(
      client,
      'cancel_ray_job',
      { rayjob: 'nightly', mode: 'delete' },
      /Delete RayJob default\/nightly.*: refused, it is protected/,
    );
    expect(world.kube.apis.get('kind-dev')!.rayJobs.has('default/nightly')).toBe(true);
  });
});

for (const era of ['2025', '2026-07-28'] as const)
  describe(`a ${era} client with form elicitation`, () => {
    // 2025: the server sends elicitation/create; 2026-07-28: the call answers input_required and the
    // client's SDK asks through the same handler, then retries with the answer (multi round-trip).
    async function elicitingServer(answer: 'accept' | 'decline' | 'cancel', confirm = true) {
      const world = new FakeWorld();
      const asked: string[] = [];
      const server = await startInMemoryServer(
        { requestTimeout: '5', confirm: 'destructive' },
        {},
        {
          actors: world.actors,
          clientOptions: {
            capabilities: { elicitation: { form: {} } },
            ...(era === '2026-07-28' ? { versionNegotiation: { mode: { pin: era } } } : {}),
          },
        },
      );
      expect(server.client.getNegotiatedProtocolVersion()).toMatch(
        era === '2025' ? /^2025-/ : /^2026-07-28$/,
      );
      server.client.setRequestHandler('elicitation/create', async (req) => {
        asked.push(String((req.params as { message?: string }).message));
        return answer === 'accept' ? { action: 'accept', content: { confirm } } : { action: answer };
      });
      const v = await ok(server.client, 'init_ray_cluster');
      world.ray.addJob(v.dashboard_url, 'train-1', 'RUNNING');
      return { ...server, world, asked };
    }

    it('asks, and on accept stops', async () => {
      const s = await elicitingServer('accept');
      try {
        const r = await ok(s.client, 'stop_ray_cluster');
        expect(r).toMatchObject({ status: 'stopped' });
        expect(s.asked[0]).toMatch(/Stop a Ray cluster\? Stop local cluster local-1.*train-1/);
      } finally {
        await s.close();
      }
    });

    it('on decline or cancel does nothing, and says so without an error', async () => {
      for (const answer of ['decline', 'cancel'] as const) {
        const s = await elicitingServer(answer);
        try {
          const res = await call(s.client, 'stop_ray_cluster');
          expect(res.isError).toBeFalsy();
          expect(textOf(res)).toMatch(/Nothing was done: the user declined/);
          expect(res.structuredContent).toMatchObject({
            status: 'running',
            confirmation: { status: 'declined' },
          });
          expect(s.world.ray.processesOf('local-1').length).toBeGreaterThan(0);
        } finally {
          await s.close();
        }
      }
    });
  });
