/**
 * Ray Serve end to end: a real MCP client over stdio, real Ray with the Serve extra. An app from a
 * local folder is deployed, answers over HTTP, is scaled and updated; a broken import path fails
 * with Ray's message; delete leaves no Serve actor and frees the proxy port; two clusters serve
 * side by side on their own ports.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';

let s: StdioServer;
let v1: string;
let v2: string;
let dashboardUrl: string;

const APP = (version: number) =>
  'from ray import serve\n' +
  'from helper import GREETING\n\n' +
  '@serve.deployment(ray_actor_options={"num_cpus": 0.1})\n' +
  'class Hello:\n' +
  '    async def __call__(self, request):\n' +
  `        return {"greeting": GREETING, "version": ${version}}\n\n` +
  'app = Hello.bind()\n';

function appDir(prefix: string, version: number): string {
  const dir = scratchDir(prefix);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'app.py'), APP(version));
  writeFileSync(join(dir, 'helper.py'), `GREETING = "hello from serve v${version}"\n`);
  return dir;
}

beforeAll(async () => {
  s = await startStdioServer();
  const c = await callOk<{ dashboard_url: string }>(s.client, 'init_ray_cluster', {
    cluster_name: 'serve-a',
    num_cpus: 2,
  });
  dashboardUrl = c.dashboard_url;
  v1 = appDir('serve1', 1);
  v2 = appDir('serve2', 2);
}, 240_000);

afterAll(async () => {
  for (const id of ['serve-b', 'serve-a'])
    await callOk(s.client, 'stop_ray_cluster', { cluster_id: id }).catch(() => {});
  await s.close();
});

type Deployment = {
  name: string;
  status: string;
  target_replicas?: number;
  replicas: Record<string, number>;
};
type App = {
  name: string;
  status: string;
  url?: string;
  message?: string;
  healthy: boolean;
  deployments: Deployment[];
};
type Deployed = { cluster_id: string; app: App; ready: boolean; failed: boolean };

const DEPLOY_TIMEOUT = 420_000;

async function deploy(args: Record<string, unknown>) {
  const res = await s.client.callTool(
    { name: 'deploy_serve_app', arguments: { wait_seconds: 240, ...args } },
    {
      timeout: DEPLOY_TIMEOUT,
    },
  );
  if (res.isError) throw new Error(`deploy_serve_app failed: ${textOf(res)}`);
  return { r: res.structuredContent as Deployed, text: textOf(res) };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  return { status: res.status, body: await res.text() };
}

/** Serve's actors alive on the cluster, from Ray's state API. */
async function serveActors(dashboard: string): Promise<string[]> {
  const res = await fetch(
    `${dashboard}/api/v0/actors?limit=1000&filter_keys=state&filter_predicates=%3D&filter_values=ALIVE`,
  );
  const body = (await res.json()) as { data: { result: { result: { class_name: string }[] } } };
  return body.data.result.result.map((a) => a.class_name).filter((n) => /Serve|Proxy|Hello/.test(n));
}

const portOpen = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const sock = createConnection({ host: hostname, port: Number(port) });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });

describe('Ray Serve on a local cluster', () => {
  it(
    'deploys an app from a local folder; its HTTP endpoint answers',
    async () => {
      const { r, text } = await deploy({
        name: 'hello',
        import_path: 'app:app',
        runtime_env: { working_dir: v1 },
      });
      console.log(`deploy_serve_app → ${text}`);
      expect(r).toMatchObject({ cluster_id: 'serve-a', ready: true, failed: false });
      expect(r.app).toMatchObject({ name: 'hello', status: 'RUNNING', healthy: true });
      expect(r.app.deployments).toEqual([
        expect.objectContaining({ name: 'Hello', status: 'HEALTHY', replicas: { RUNNING: 1 } }),
      ]);
      expect(r.app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hello$/);
      const answer = await get(r.app.url!);
      console.log(`GET ${r.app.url} → ${answer.status} ${answer.body}`);
      expect(answer).toEqual({ status: 200, body: '{"greeting":"hello from serve v1","version":1}' });
    },
    DEPLOY_TIMEOUT,
  );

  it(
    'scales it from 1 to 2 replicas',
    async () => {
      const { r } = await deploy({
        name: 'hello',
        import_path: 'app:app',
        runtime_env: { working_dir: v1 },
        deployments: [{ name: 'Hello', num_replicas: 2, num_cpus: 0.1 }],
      });
      expect(r.ready).toBe(true);
      expect(r.app.deployments[0]).toMatchObject({ target_replicas: 2, replicas: { RUNNING: 2 } });
      const listed = await callOk<{ apps: App[] }>(s.client, 'list_serve_apps', { name: 'hello' });
      expect(listed.apps[0]!.deployments[0]!.replicas).toEqual({ RUNNING: 2 });
    },
    DEPLOY_TIMEOUT,
  );

  it(
    'updates it to new code; the endpoint answers with the new version',
    async () => {
      const { r } = await deploy({ name: 'hello', import_path: 'app:app', runtime_env: { working_dir: v2 } });
      expect(r.ready).toBe(true);
      const answer = await waitFor(
        'the new version to answer',
        async () => {
          const a = await get(r.app.url!).catch(() => undefined);
          return a?.body.includes('"version":2') && a;
        },
        60_000,
        500,
      );
      expect(answer).toEqual({ status: 200, body: '{"greeting":"hello from serve v2","version":2}' });
    },
    DEPLOY_TIMEOUT,
  );

  it(
    "shows a broken import path as a failed app with Ray's message, keeping the other app",
    async () => {
      const { r, text } = await deploy({
        name: 'broken',
        import_path: 'no_such_module:app',
        runtime_env: { working_dir: v1 },
      });
      console.log(`broken deploy → ${text.slice(0, 400)}`);
      expect(r).toMatchObject({
        ready: false,
        failed: true,
        app: { name: 'broken', status: 'DEPLOY_FAILED' },
      });
      expect(r.app.message).toMatch(/No module named 'no_such_module'/);
      expect(r.app.message!.length).toBeLessThan(700);
      expect(text).toMatch(/FAILED[\s\S]*untrusted/);
      const listed = await callOk<{ apps: App[] }>(s.client, 'list_serve_apps');
      expect(listed.apps.map((a) => [a.name, a.status]).sort()).toEqual([
        ['broken', 'DEPLOY_FAILED'],
        ['hello', 'RUNNING'],
      ]);
      const del = await callOk(s.client, 'delete_serve_app', { name: 'broken' });
      expect(del).toMatchObject({ deleted: true, serve_stopped: false, remaining: ['hello'] });
    },
    DEPLOY_TIMEOUT,
  );

  it(
    'serves side by side with a second cluster, each on its own port',
    async () => {
      await callOk(s.client, 'init_ray_cluster', { cluster_name: 'serve-b', num_cpus: 1 }, 240_000);
      const { r: b } = await deploy({
        cluster_id: 'serve-b',
        name: 'hello',
        import_path: 'app:app',
        runtime_env: { working_dir: v1 },
      });
      expect(b.ready).toBe(true);
      const a = await callOk<{ apps: App[] }>(s.client, 'list_serve_apps', { cluster_id: 'serve-a' });
      const urlA = a.apps.find((x) => x.name === 'hello')!.url!;
      expect(new URL(b.app.url!).port).not.toBe(new URL(urlA).port);
      expect((await get(urlA)).body).toContain('"version":2');
      expect((await get(b.app.url!)).body).toContain('"version":1');
      await callOk(s.client, 'stop_ray_cluster', { cluster_id: 'serve-b' }, 240_000);
    },
    DEPLOY_TIMEOUT,
  );

  it('deletes the last app: Serve shuts down, no Serve actor is left, the proxy port is free', async () => {
    const before = await callOk<{ apps: App[]; proxy_url?: string }>(s.client, 'list_serve_apps');
    const proxy = before.proxy_url!;
    expect(await portOpen(proxy)).toBe(true);
    const del = await s.client.callTool(
      { name: 'delete_serve_app', arguments: { name: 'hello' } },
      { timeout: 120_000 },
    );
    console.log(`delete_serve_app → ${textOf(del)}`);
    expect(del.structuredContent).toMatchObject({ deleted: true, serve_stopped: true, remaining: [] });
    await waitFor(
      'Serve actors to go',
      async () => (await serveActors(dashboardUrl)).length === 0,
      60_000,
      500,
    );
    await waitFor('the proxy port to close', async () => !(await portOpen(proxy)), 30_000, 250);
    const after = await callOk<{ running: boolean; apps: App[] }>(s.client, 'list_serve_apps');
    expect(after).toMatchObject({ running: false, apps: [] });
    const again = await callOk(s.client, 'delete_serve_app', { name: 'hello' });
    expect(again).toMatchObject({ deleted: false });
  }, 180_000);
});
