/**
 * The audit log: a real MCP client calls tools on the real system with a fake world, and
 * `<data dir>/audit.jsonl` holds one line per call that changes something (none for read-only
 * calls), with time, tool, target, scrubbed arguments and outcome, mode 0600, no secret. The file
 * writer rotates at its size limit, keeps order, and a failing disk never fails a call.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/clients/audit-log.js';
import { type AuditEntry, MAX_ARGS_JSON, redactText, scrubArgs } from '../../src/domain/audit.js';
import { isAudited } from '../../src/mcp/audit.js';
import { ALL_TOOLS } from '../../src/mcp/tools/index.js';
import { fakeServers, ok, refused } from '../helpers/fake-server.js';
import { scratchDir } from '../helpers/mcp.js';

const start = fakeServers();

const SECRET = 'SECRET-VALUE-7f3a';

function readLines(path: string): AuditEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('audit log through a real client', () => {
  it('writes one line per changing call, none for read-only ones, with target, scrubbed args and outcome', async () => {
    const { client, world, server } = await start((w) => {
      w.kube.addContext('kind-dev');
      w.clouds.gke.identity = {
        method: 'application_default',
        principal: 'me@example.com',
        project: 'proj-123456',
      };
    });
    const cluster = await ok(client, 'init_ray_cluster', { num_cpus: 2 });
    await ok(client, 'list_ray_clusters');
    await ok(client, 'submit_ray_job', {
      entrypoint: 'python train.py',
      submission_id: 'train-1',
      runtime_env: { env_vars: { API_KEY: SECRET, PLAIN: SECRET }, pip: ['numpy'] },
      metadata: { note: `token=${SECRET}` },
    });
    await ok(client, 'inspect_ray_job', { submission_id: 'train-1' });
    await ok(client, 'cancel_ray_job', { submission_id: 'train-1' });
    await refused(client, 'stop_ray_cluster', { cluster_id: 'no-such' }, /no-such/);
    await ok(client, 'connect_kubernetes_cluster', { context: 'kind-dev' });
    await ok(client, 'authenticate_cloud_provider', { provider: 'gke', project_id: 'proj-123456' });
    await ok(client, 'stop_ray_cluster', { cluster_id: cluster.cluster_id });
    expect(world.ray.processesOf('local-1')).toEqual([]);

    await server.app.audit.flush();
    const path = join(server.app.config.dataDir, 'audit.jsonl');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(SECRET);
    const lines = readLines(path);
    expect(lines.map((l) => l.tool)).toEqual([
      'init_ray_cluster',
      'submit_ray_job',
      'cancel_ray_job',
      'stop_ray_cluster',
      'connect_kubernetes_cluster',
      'authenticate_cloud_provider',
      'stop_ray_cluster',
    ]);
    for (const l of lines) {
      expect(Date.parse(l.time)).toBeGreaterThan(Date.now() - 60_000);
      expect(l.ms).toBeGreaterThanOrEqual(0);
    }
    const [init, submit, cancel, badStop, connect, auth, stop] = lines;
    expect(init).toMatchObject({
      target: { cluster_id: 'local-1' },
      args: { num_cpus: 2 },
      outcome: { result: 'ok' },
    });
    expect(submit).toMatchObject({
      target: { submission_id: 'train-1', cluster_id: 'local-1' },
      args: {
        entrypoint: 'python train.py',
        runtime_env: { env_vars: { API_KEY: '[redacted]', PLAIN: '[redacted]' }, pip: ['numpy'] },
        metadata: { note: 'token=[redacted]' },
      },
      outcome: { result: 'ok' },
    });
    expect(cancel).toMatchObject({ target: { submission_id: 'train-1' }, outcome: { result: 'ok' } });
    expect(badStop).toMatchObject({
      target: { cluster_id: 'no-such' },
      outcome: { result: 'error', code: 'not_found', message: expect.stringContaining('no-such') },
    });
    expect(connect).toMatchObject({ target: { context: 'kind-dev' }, outcome: { result: 'ok' } });
    expect(auth).toMatchObject({ target: { provider: 'gke' }, args: { project_id: 'proj-123456' } });
    expect(stop).toMatchObject({ target: { cluster_id: 'local-1' }, outcome: { result: 'ok' } });
  });

  it('records a refusal as refused, with its code and message', async () => {
    const { client, server } = await start();
    await ok(client, 'init_ray_cluster');
    // Two workers of a type the cluster does not have: refused by ray-mcp (not by the schema).
    const res = await client.callTool({
      name: 'scale_ray_cluster',
      arguments: { cluster_id: 'local-1', workers: 1, worker_group: 'gpu' },
    });
    expect(res.isError).toBe(true);
    await server.app.audit.flush();
    const last = readLines(join(server.app.config.dataDir, 'audit.jsonl')).at(-1)!;
    expect(last.tool).toBe('scale_ray_cluster');
    expect(last.outcome).toMatchObject({ result: 'refused', code: 'invalid_input' });
  });

  it('classifies every tool: changing ones (and authenticate/disconnect) audited, reads not', () => {
    const audited = ALL_TOOLS.filter(isAudited).map((t) => t.name);
    expect(audited.sort()).toEqual(
      [
        'authenticate_cloud_provider',
        'cancel_ray_job',
        'connect_kubernetes_cluster',
        'create_kubernetes_cluster',
        'delete_serve_app',
        'deploy_serve_app',
        'disconnect_cloud_provider',
        'init_ray_cluster',
        'scale_ray_cluster',
        'stop_ray_cluster',
        'submit_ray_job',
      ].sort(),
    );
  });
});

const entry = (i: number, pad = 0): AuditEntry => ({
  time: new Date(0).toISOString(),
  tool: 'submit_ray_job',
  target: { submission_id: `job-${i}` },
  args: { i, pad: 'x'.repeat(pad) },
  outcome: { result: 'ok' },
  ms: 1,
});

describe('AuditLog file', () => {
  it('rotates at the size limit, keeps N files, and keeps every kept line in order', async () => {
    const dir = scratchDir('audit');
    const path = join(dir, 'audit.jsonl');
    const log = new AuditLog({ path, maxBytes: 1000, keep: 2 });
    for (let i = 0; i < 60; i++) log.record(entry(i, 50));
    await log.flush();
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const f of [path, `${path}.1`, `${path}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(1000);
    const kept = [`${path}.2`, `${path}.1`, path].flatMap((f) =>
      readLines(f).map((l) => (l.args as { i: number }).i),
    );
    expect(kept.length).toBeGreaterThan(10);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => 60 - kept.length + k));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('continues an existing file, narrowing its mode to 0600', async () => {
    const dir = scratchDir('audit');
    const path = join(dir, 'audit.jsonl');
    writeFileSync(path, `${JSON.stringify(entry(0))}\n`);
    chmodSync(path, 0o644);
    const log = new AuditLog({ path });
    log.record(entry(1));
    await log.flush();
    expect(readLines(path).map((l) => (l.args as { i: number }).i)).toEqual([0, 1]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('never throws on a failing disk, and reports the failure once', async () => {
    const dir = scratchDir('audit');
    mkdirSync(join(dir, 'audit.jsonl')); // a directory where the file should be
    const errors: unknown[] = [];
    const log = new AuditLog({ path: join(dir, 'audit.jsonl'), onError: (e) => errors.push(e) });
    for (let i = 0; i < 3; i++) expect(() => log.record(entry(i))).not.toThrow();
    await log.flush();
    expect(errors).toHaveLength(1);
  });

  it('drops lines beyond maxPending instead of growing without bound', async () => {
    const dir = scratchDir('audit');
    const errors: unknown[] = [];
    const log = new AuditLog({ path: join(dir, 'a.jsonl'), maxPending: 5, onError: (e) => errors.push(e) });
    for (let i = 0; i < 8; i++) log.record(entry(i));
    await log.flush();
    expect(readLines(join(dir, 'a.jsonl'))).toHaveLength(5);
    expect(errors).toHaveLength(1);
  });
});

describe('scrubArgs', () => {
  it('redacts secret-looking names at any depth, env values, and secrets in text', () => {
    const out = scrubArgs({
      provider: 'eks',
      password: 'p',
      nested: { aws_secret_access_key: 'k', list: [{ Authorization: 'Bearer abc' }] },
      environment: { HOME: '/root' },
      note: 'Authorization: Bearer abcdefghijkl1234 and api_key=XYZ123',
    });
    expect(out).toEqual({
      provider: 'eks',
      password: '[redacted]',
      nested: { aws_secret_access_key: '[redacted]', list: [{ Authorization: '[redacted]' }] },
      environment: { HOME: '[redacted]' },
      note: 'Authorization: Bearer [redacted] and api_key=[redacted]',
    });
    expect(redactText('token: abc.def')).toBe('token: [redacted]');
  });

  it('bounds strings, arrays, keys, depth and the whole', () => {
    const out = scrubArgs({
      s: 'a'.repeat(1000),
      arr: Array.from({ length: 50 }, (_, i) => i),
      deep: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } },
    }) as Record<string, unknown>;
    expect((out.s as string).length).toBeLessThan(300);
    expect(out.arr).toHaveLength(21);
    expect(JSON.stringify(out.deep)).toContain('[deeper]');
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(200)]));
    const big = scrubArgs({ many, more: many });
    expect(JSON.stringify(big).length).toBeLessThanOrEqual(MAX_ARGS_JSON + 100);
  });

  it('ignores prototype keys', () => {
    const out = scrubArgs(JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}')) as Record<string, unknown>;
    expect(out).toEqual({ a: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
