/**
 * The HTTP front (`ray-mcp --http`) with real clients over real HTTP: the v1 TypeScript SDK (2025,
 * sessions), the v2 client (2026-07-28, stateless) and the Python `mcp` package (both eras), all
 * against one server process on a real local Ray cluster. Also the gates: bearer token (401),
 * foreign Origin and bad Host (403), body size (413), the health probe, the bind rule.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import type { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callPython, connectV1, connectV2, type HttpServer, startHttpServer } from '../helpers/http.js';
import { baseEnv, callOk, MAIN, scratchDir, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';

const TOKEN = 'test-token-0123456789abcdef';

const post = (url: string, headers: Record<string, string> = {}, body = '{}') =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
});

describe('the HTTP front refuses what it must', () => {
  let s: HttpServer;
  beforeAll(async () => {
    s = await startHttpServer({ env: { RAY_MCP_HTTP_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    expect(await s.close()).toBe(0);
  });

  it('answers the health probe without a token, and says nothing more', async () => {
    const res = await fetch(s.url.replace(/\/mcp$/, '/healthz'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  it('answers 401 with a Bearer challenge without the token or with a wrong one', async () => {
    const none = await post(s.url, {}, INIT);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await post(s.url, { authorization: 'Bearer not-the-token-at-all' }, INIT);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/invalid_token/);
    await expect(connectV1(s.url)).rejects.toThrow();
    await expect(
      callPython(s.url, 'legacy', 'wrong-token-wrong-token', 'list_ray_clusters'),
    ).rejects.toThrow();
  });

  it('answers 403 to a foreign Origin and to a Host that is not this server (DNS rebinding)', async () => {
    const origin = await post(
      s.url,
      { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' },
      INIT,
    );
    expect(origin.status).toBe(403);
    expect(await origin.text()).toContain('Invalid Origin');
    // fetch will not forge Host; a raw request does.
    const { request } = await import('node:http');
    const u = new URL(s.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: '/mcp',
          method: 'POST',
          headers: {
            host: 'evil.example:80',
            'content-type': 'application/json',
            authorization: `Bearer ${TOKEN}`,
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(INIT);
    });
    expect(status).toBe(403);
    // A local origin is fine.
    const local = await post(
      s.url,
      { authorization: `Bearer ${TOKEN}`, origin: 'http://localhost:3000' },
      INIT,
    );
    expect(local.status).toBe(200);
  });

  it('refuses a body over 1 MiB with 413, and unknown paths with 404', async () => {
    const big = await post(s.url, { authorization: `Bearer ${TOKEN}` }, `{"x":"${'a'.repeat(1_100_000)}"}`);
    expect(big.status).toBe(413);
    const other = await post(s.url.replace(/\/mcp$/, '/other'), { authorization: `Bearer ${TOKEN}` }, INIT);
    expect(other.status).toBe(404);
  });

  it('refuses to listen beyond loopback without a token, and reads the token from a file', async () => {
    const res = spawnSync(process.execPath, [MAIN, '--http', '0.0.0.0:0'], {
      env: baseEnv(),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/needs a bearer token: set RAY_MCP_HTTP_TOKEN or --http-token-file/);
    const file = join(scratchDir('tok'), 'token');
    writeFileSync(file, `${TOKEN}\n`);
    const wide = await startHttpServer({ args: ['--http', '0.0.0.0:0', '--http-token-file', file] });
    try {
      const url = wide.url.replace('0.0.0.0', '127.0.0.1');
      expect((await post(url, {}, INIT)).status).toBe(401);
      const client = await connectV1(url, TOKEN);
      expect((await client.listTools()).tools.length).toBeGreaterThan(10);
      await client.close();
    } finally {
      expect(await wide.close()).toBe(0);
    }
  });
});

describe('one actor system serves every HTTP client', () => {
  let s: HttpServer;
  let v1: V1Client;
  let v2: Client;
  beforeAll(async () => {
    s = await startHttpServer({ env: { RAY_MCP_HTTP_TOKEN: TOKEN } });
    v1 = await connectV1(s.url, TOKEN);
    v2 = await connectV2(s.url, TOKEN);
  });
  afterAll(async () => {
    await v1?.close();
    await v2?.close();
    expect(await s?.close()).toBe(0);
  });

  it('a cluster one client starts is the cluster every other client sees and uses', async () => {
    // 2025 client (v1 SDK, a session): start, with progress streamed back over HTTP.
    const progress: string[] = [];
    const started = await v1.callTool(
      { name: 'init_ray_cluster', arguments: { cluster_name: 'shared', num_cpus: 1 } },
      undefined,
      { timeout: 180_000, onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);

    // 2026-07-28 client (v2, stateless): the same cluster.
    const seen = await callOk<{ clusters: { cluster_id: string; status: string }[] }>(
      v2,
      'list_ray_clusters',
    );
    expect(seen.clusters).toContainEqual(
      expect.objectContaining({ cluster_id: 'shared', status: 'running' }),
    );

    // Python, both eras: the same cluster.
    for (const mode of ['legacy', '2026-07-28']) {
      const py = await callPython(s.url, mode, TOKEN, 'list_ray_clusters');
      expect(py.is_error, py.text).toBe(false);
      expect(py.tools).toBeGreaterThan(10);
      expect(JSON.stringify(py.structured)).toContain('"cluster_id":"shared"');
    }

    // A job submitted by one is watched by the others: resource updates reach a 2025 subscriber
    // (resources/subscribe on its session) and a 2026-07-28 listener (subscriptions/listen).
    const uri = 'ray://clusters/shared/jobs/http-job';
    const v1Updates: string[] = [];
    const v2Updates: string[] = [];
    v1.setNotificationHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).ResourceUpdatedNotificationSchema,
      (n) => void v1Updates.push(n.params.uri),
    );
    v2.setNotificationHandler('notifications/resources/updated', (n) => void v2Updates.push(n.params.uri));
    const py = await callPython(s.url, 'legacy', TOKEN, 'submit_ray_job', {
      cluster_id: 'shared',
      entrypoint: 'sleep 6 && echo done-here',
      submission_id: 'http-job',
    });
    expect(py.is_error, py.text).toBe(false);
    await v1.subscribeResource({ uri });
    const listener = await v2.listen({ resourceSubscriptions: [uri] });

    // 2026-07-28 progress over HTTP (the response upgrades to SSE).
    const waited: string[] = [];
    const done = await v2.callTool(
      {
        name: 'wait_for_ray_job',
        arguments: { cluster_id: 'shared', submission_id: 'http-job', timeout_seconds: 60 },
      },
      { timeout: 120_000, onprogress: (p) => void waited.push(p.message ?? '') },
    );
    expect(done.isError, textOf(done as never)).toBeFalsy();
    expect((done.structuredContent as { status: string }).status).toBe('SUCCEEDED');
    expect(waited.length).toBeGreaterThan(0);
    await waitFor('the 2025 subscriber to hear of the job', () => v1Updates.includes(uri), 30_000, 100);
    await waitFor('the 2026-07-28 listener to hear of the job', () => v2Updates.includes(uri), 30_000, 100);
    await listener.close?.();

    const logs = await v1.callTool({
      name: 'retrieve_logs',
      arguments: { cluster_id: 'shared', submission_id: 'http-job' },
    });
    expect((logs.structuredContent as { log: string }).log).toContain('done-here');

    const stopped = await callOk<{ status: string }>(v2, 'stop_ray_cluster', { cluster_id: 'shared' });
    expect(stopped.status).toBe('stopped');
    const after = await v1.callTool({ name: 'list_ray_clusters', arguments: {} });
    expect(JSON.stringify(after.structuredContent)).toContain('"status":"stopped"');
  });
});
