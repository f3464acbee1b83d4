/**
 * Jobs end to end on one real local cluster: a real MCP client over stdio, real Ray.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';
import { waitFor } from '../helpers/processes.js';

let s: StdioServer;
let dir: string;

beforeAll(async () => {
  s = await startStdioServer();
  await callOk(s.client, 'init_ray_cluster', { cluster_name: 'jobs', num_cpus: 2 });
  dir = scratchDir('wd');
  writeFileSync(join(dir, 'helper.py'), 'def greet():\n    return "hello from helper"\n');
  writeFileSync(
    join(dir, 'main.py'),
    'import helper, ray\nray.init()\nprint(helper.greet())\n@ray.remote\ndef f(x):\n    return x * 2\nprint("sum", sum(ray.get([f.remote(i) for i in range(10)])))\n',
  );
  writeFileSync(join(dir, 'bad.py'), 'def inner():\n    raise ValueError("bad value 42")\n\ninner()\n');
  writeFileSync(
    join(dir, 'many.py'),
    'import sys\nsys.stdout.writelines(f"line {i}\\n" for i in range(100000))\n',
  );
  writeFileSync(
    join(dir, 'slow.py'),
    'import time\nfor i in range(3):\n    print("tick", i, flush=True)\n    time.sleep(1)\n',
  );
  mkdirSync(join(dir, '__pycache__'));
  writeFileSync(join(dir, '__pycache__', 'junk.pyc'), 'x');
}, 180_000);

afterAll(async () => {
  await callOk(s.client, 'stop_ray_cluster', { cluster_id: 'jobs' }).catch(() => {});
  await s.close();
});

type Job = { submission_id: string; status: string; existed?: boolean; ended?: boolean };
type Logs = {
  log: string;
  lines: number;
  older_cursor?: string;
  newer_cursor: string;
  truncated: boolean;
  untrusted: true;
};

describe('jobs', () => {
  it('runs a job whose working_dir module it imports, and reads its logs', async () => {
    const submitted = await callOk<Job>(s.client, 'submit_ray_job', {
      entrypoint: 'python main.py',
      submission_id: 'wd-job',
      runtime_env: { working_dir: dir, env_vars: { SECRET_TOKEN: 'not-shown' } },
    });
    expect(submitted).toMatchObject({ submission_id: 'wd-job', existed: false });
    const done = await callOk<Job & { runtime_env: { working_dir: string; env_vars: string[] } }>(
      s.client,
      'wait_for_ray_job',
      { submission_id: 'wd-job', timeout_seconds: 120 },
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', ended: true });
    expect(done.runtime_env.working_dir).toMatch(/^gcs:\/\/_ray_pkg_[0-9a-f]{16}\.zip$/);
    expect(done.runtime_env.env_vars).toEqual(['SECRET_TOKEN']);
    expect(JSON.stringify(done)).not.toContain('not-shown');
    const logs = await callOk<Logs>(s.client, 'retrieve_logs', { submission_id: 'wd-job' });
    expect(logs.log).toContain('hello from helper');
    expect(logs.log).toContain('sum 90');
    expect(logs.untrusted).toBe(true);
  });

  it('returns the existing job when the same submission_id is submitted again', async () => {
    const again = await callOk<Job>(s.client, 'submit_ray_job', {
      entrypoint: 'python main.py',
      submission_id: 'wd-job',
      runtime_env: { working_dir: dir },
    });
    expect(again).toMatchObject({ submission_id: 'wd-job', existed: true, status: 'SUCCEEDED' });
    const list = await callOk<{ jobs: Job[] }>(s.client, 'list_ray_jobs');
    expect(list.jobs.filter((j) => j.submission_id === 'wd-job')).toHaveLength(1);
  });

  it('explains a failed job: exception, innermost frame and a suggestion', async () => {
    await callOk(s.client, 'submit_ray_job', {
      entrypoint: 'python bad.py',
      submission_id: 'bad-job',
      runtime_env: { working_dir: dir },
    });
    const done = await callOk<Job & { failure: Record<string, unknown> }>(s.client, 'wait_for_ray_job', {
      submission_id: 'bad-job',
      timeout_seconds: 120,
    });
    expect(done.status).toBe('FAILED');
    expect(done.failure).toMatchObject({
      cause: 'python_exception',
      exception: { type: 'ValueError', message: 'bad value 42' },
      innermost_frame: { line: 2, function: 'inner', code: 'raise ValueError("bad value 42")' },
    });
    const inspected = await callOk<{ failure: { cause: string } }>(s.client, 'inspect_ray_job', {
      job_id: 'bad-job',
    });
    expect(inspected.failure.cause).toBe('python_exception');
  });

  it('cancels a long job, and cancelling again is a no-op', async () => {
    await callOk(s.client, 'submit_ray_job', { entrypoint: 'sleep 300', submission_id: 'long-job' });
    const waited = await callOk<Job>(s.client, 'wait_for_ray_job', {
      submission_id: 'long-job',
      timeout_seconds: 2,
    });
    expect(waited.ended).toBe(false);
    const cancelled = await callOk<Job & { already_ended: boolean }>(s.client, 'cancel_ray_job', {
      submission_id: 'long-job',
    });
    expect(cancelled).toMatchObject({ status: 'STOPPED', already_ended: false });
    const again = await callOk<Job & { already_ended: boolean }>(s.client, 'cancel_ray_job', {
      submission_id: 'long-job',
    });
    expect(again).toMatchObject({ status: 'STOPPED', already_ended: true });
  });

  it('tails a 100,000-line log without reading it whole, and pages with cursors', async () => {
    await callOk(s.client, 'submit_ray_job', {
      entrypoint: 'python many.py',
      submission_id: 'many-job',
      runtime_env: { working_dir: dir },
    });
    await callOk(s.client, 'wait_for_ray_job', { submission_id: 'many-job', timeout_seconds: 120 });
    const tail = await callOk<Logs>(s.client, 'retrieve_logs', { submission_id: 'many-job', lines: 50 });
    const lines = tail.log.split('\n');
    expect(lines).toHaveLength(50);
    expect(lines.at(-1)).toBe('line 99999');
    expect(lines[0]).toBe('line 99950');
    const older = await callOk<Logs>(s.client, 'retrieve_logs', {
      submission_id: 'many-job',
      lines: 50,
      cursor: tail.older_cursor,
    });
    expect(older.log.split('\n').at(-1)).toBe('line 99949');
    const nothingNew = await callOk<Logs>(s.client, 'retrieve_logs', {
      submission_id: 'many-job',
      cursor: tail.newer_cursor,
    });
    expect(nothingNew.lines).toBe(0);
    const capped = await callOk<Logs>(s.client, 'retrieve_logs', {
      submission_id: 'many-job',
      lines: 2000,
      max_bytes: 1024,
    });
    expect(Buffer.byteLength(capped.log)).toBeLessThanOrEqual(1024);
    expect(capped.truncated).toBe(true);
  });

  it('reads only what is new since a cursor while a job writes', async () => {
    await callOk(s.client, 'submit_ray_job', {
      entrypoint: 'python slow.py',
      submission_id: 'slow-job',
      runtime_env: { working_dir: dir },
    });
    const progress: string[] = [];
    const res = await s.client.callTool(
      { name: 'wait_for_ray_job', arguments: { submission_id: 'slow-job', timeout_seconds: 60 } },
      { timeout: 120_000, onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(res.isError, textOf(res)).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((m) => /RUNNING|PENDING/.test(m))).toBe(true);
    const first = await callOk<Logs>(s.client, 'retrieve_logs', { submission_id: 'slow-job', lines: 1 });
    expect(first.log).toBe('tick 2');
    const before = await callOk<Logs>(s.client, 'retrieve_logs', {
      submission_id: 'slow-job',
      lines: 2,
      cursor: first.older_cursor,
    });
    expect(before.log).toBe('tick 0\ntick 1');
  });

  it('answers bad input with a clear error and keeps serving', async () => {
    const bad = async (name: string, args: Record<string, unknown>, pattern: RegExp) => {
      const r = await s.client.callTool({ name, arguments: args });
      expect(r.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(r)).toMatch(pattern);
    };
    await bad(
      'submit_ray_job',
      { entrypoint: 'python x.py', runtime_env: { working_dir: '/nonexistent/dir' } },
      /not a folder/,
    );
    await bad('submit_ray_job', { entrypoint: '' }, /entrypoint/);
    await bad('submit_ray_job', { entrypoint: 'true', cluster_id: 'nope' }, /No cluster named nope/);
    await bad('inspect_ray_job', { submission_id: 'no-such-job' }, /No job no-such-job/);
    await bad('inspect_ray_job', {}, /submission_id is missing/);
    await bad('retrieve_logs', { submission_id: 'wd-job', cursor: 'garbage' }, /log cursor/);
    await bad('list_ray_jobs', { cursor: 'x' }, /next_cursor/);
    expect((await callOk<{ total: number }>(s.client, 'list_ray_jobs')).total).toBeGreaterThan(0);
  });
});

describe('job resources', () => {
  it('notifies a subscribed client (resources/subscribe) when a job ends', async () => {
    await callOk(s.client, 'submit_ray_job', { entrypoint: 'sleep 2', submission_id: 'sub-job' });
    const uri = 'ray://clusters/jobs/jobs/sub-job';
    const updates: string[] = [];
    s.client.setNotificationHandler('notifications/resources/updated', (n) => {
      updates.push(n.params.uri);
    });
    await s.client.subscribeResource({ uri });
    const listUri = 'ray://clusters/jobs/jobs';
    await s.client.subscribeResource({ uri: listUri });
    const statusNow = async () =>
      JSON.parse(((await s.client.readResource({ uri })).contents[0] as { text: string }).text)
        .status as string;
    // Each state change (PENDING → RUNNING → SUCCEEDED) is one update; read after each.
    const seen: string[] = [];
    await waitFor(
      'the update for the job ending',
      async () => {
        if (updates.filter((u) => u === uri).length > seen.length) seen.push(await statusNow());
        return seen.includes('SUCCEEDED');
      },
      60_000,
      100,
    );
    expect(updates).toContain(listUri);
    await s.client.unsubscribeResource({ uri });
  });

  it('serves subscriptions/listen to a 2026-07-28 client', async () => {
    const cluster = await callOk<{ dashboard_url: string }>(s.client, 'inspect_ray_cluster', {
      cluster_id: 'jobs',
    });
    const modern = await startStdioServer({
      clientOptions: { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    });
    try {
      await callOk(modern.client, 'init_ray_cluster', {
        cluster_name: 'same',
        address: cluster.dashboard_url,
      });
      await callOk(modern.client, 'submit_ray_job', {
        cluster_id: 'same',
        entrypoint: 'sleep 2',
        submission_id: 'listen-job',
      });
      const uri = 'ray://clusters/same/jobs/listen-job';
      const updates: string[] = [];
      modern.client.setNotificationHandler('notifications/resources/updated', (n) => {
        updates.push(n.params.uri);
      });
      const read = await modern.client.readResource({ uri });
      expect(JSON.parse((read.contents[0] as { text: string }).text).submission_id).toBe('listen-job');
      const sub = await modern.client.listen({ resourceSubscriptions: [uri] });
      await waitFor('the listen update', () => updates.includes(uri), 60_000, 100);
      // On a cluster ray-mcp did not start, logs come through Ray's log API, not the file.
      const remote = await callOk<{ log: string; older_cursor?: string }>(modern.client, 'retrieve_logs', {
        cluster_id: 'same',
        submission_id: 'many-job',
        lines: 20,
      });
      expect(remote.log.split('\n')).toEqual(Array.from({ length: 20 }, (_, i) => `line ${99980 + i}`));
      const back = await callOk<{ log: string }>(modern.client, 'retrieve_logs', {
        cluster_id: 'same',
        submission_id: 'many-job',
        lines: 20,
        cursor: remote.older_cursor,
      });
      expect(back.log.split('\n').at(-1)).toBe('line 99979');
      await sub.close?.();
    } finally {
      await modern.close();
    }
  });
});

describe('token authentication', () => {
  it('starts a token-auth cluster and runs a job on it, sending the token only where asked', async () => {
    const token = 'a'.repeat(8) + Math.random().toString(16).slice(2).padEnd(24, '0');
    const t = await startStdioServer({ env: { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: token } });
    try {
      const cluster = await callOk<{ dashboard_url: string }>(t.client, 'init_ray_cluster', {
        cluster_name: 'auth',
        num_cpus: 1,
      });
      // The dashboard really wants the token.
      expect((await fetch(`${cluster.dashboard_url}/api/jobs/`)).status).toBe(401);
      await callOk(t.client, 'submit_ray_job', { entrypoint: 'echo authed', submission_id: 'auth-job' });
      const done = await callOk<{ status: string }>(t.client, 'wait_for_ray_job', {
        submission_id: 'auth-job',
        timeout_seconds: 120,
      });
      expect(done.status).toBe('SUCCEEDED');
      const logs = await callOk<{ log: string }>(t.client, 'retrieve_logs', { submission_id: 'auth-job' });
      expect(logs.log).toContain('authed');
      expect(
        JSON.stringify(await t.client.callTool({ name: 'check_environment', arguments: {} })),
      ).not.toContain(token);
      await callOk(t.client, 'stop_ray_cluster', { cluster_id: 'auth' });
    } finally {
      await t.close();
    }
  });
});
