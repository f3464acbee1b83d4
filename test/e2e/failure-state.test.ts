/**
 * Failure analysis with Ray's state API, on real Ray through a real MCP client over stdio: a job
 * whose actor's process exits and a job whose task raises. inspect_ray_job and retrieve_logs name
 * the dead actor's death cause and the failed task's error type, joined with the log's traceback.
 * (An OOM kill by the memory monitor is not made here: on a shared 2-core machine it cannot be made
 * reliably without risking the other processes; the unit tests cover how it is read.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOk, type StdioServer, scratchDir, startStdioServer, textOf } from '../helpers/mcp.js';

let s: StdioServer;
let dir: string;

beforeAll(async () => {
  s = await startStdioServer();
  await callOk(s.client, 'init_ray_cluster', { cluster_name: 'failures', num_cpus: 2 });
  dir = scratchDir('fail');
  writeFileSync(
    join(dir, 'actor_exit.py'),
    'import os, ray\nray.init()\n\n@ray.remote(num_cpus=0.1)\nclass Trainer:\n    def step(self):\n' +
      '        os._exit(3)\n\nt = Trainer.remote()\nray.get(t.step.remote())\n',
  );
  writeFileSync(
    join(dir, 'exit_actor.py'),
    'import ray\nray.init()\n\n@ray.remote(num_cpus=0.1)\nclass Loader:\n    def stop(self):\n' +
      '        ray.actor.exit_actor()\n    def load(self):\n        return 1\n\n' +
      'l = Loader.remote()\nl.stop.remote()\nray.get(l.load.remote())\n',
  );
  writeFileSync(
    join(dir, 'task_raise.py'),
    'import ray\nray.init()\n\n@ray.remote(num_cpus=0.1)\ndef load_shard(i):\n' +
      '    raise ValueError(f"shard {i} is corrupt")\n\nray.get(load_shard.remote(7))\n',
  );
}, 240_000);

afterAll(async () => {
  await callOk(s.client, 'stop_ray_cluster', { cluster_id: 'failures' }).catch(() => {});
  await s.close();
});

type Failure = {
  cause: string;
  exception?: { type: string; message: string };
  failed_tasks?: { name: string; error_type: string; error?: string }[];
  dead_actors?: { class_name: string; death_cause: string; message?: string; pid?: number }[];
  ray_record?: string;
};

async function failedJob(entrypoint: string, id: string) {
  await callOk(s.client, 'submit_ray_job', {
    entrypoint,
    submission_id: id,
    runtime_env: { working_dir: dir },
  });
  const done = await callOk<{ status: string }>(s.client, 'wait_for_ray_job', {
    submission_id: id,
    timeout_seconds: 150,
  });
  expect(done.status).toBe('FAILED');
}

describe("failure analysis with Ray's state API", () => {
  it("names the dead actor's death cause for a job whose actor process exits", async () => {
    await failedJob('python actor_exit.py', 'actor-exit');
    const res = await s.client.callTool({
      name: 'inspect_ray_job',
      arguments: { submission_id: 'actor-exit' },
    });
    const f = (res.structuredContent as { failure: Failure }).failure;
    console.log(`inspect_ray_job → ${textOf(res)}\n${JSON.stringify(f.dead_actors)}`);
    expect(f.cause).toBe('actor_died');
    expect(f.dead_actors).toEqual([
      expect.objectContaining({ class_name: 'Trainer', death_cause: 'WORKER_DIED (SYSTEM_ERROR)' }),
    ]);
    expect(f.ray_record).toMatch(/actor Trainer \(pid \d+\) died: WORKER_DIED \(SYSTEM_ERROR\)/);
    expect(textOf(res)).toMatch(/Ray's record \(untrusted\): actor Trainer/);
  }, 240_000);

  it('names an actor that ended itself with ray.actor.exit_actor, which the driver then called', async () => {
    await failedJob('python exit_actor.py', 'exit-actor');
    const res = await s.client.callTool({
      name: 'inspect_ray_job',
      arguments: { submission_id: 'exit-actor' },
    });
    const f = (res.structuredContent as { failure: Failure }).failure;
    console.log(`inspect_ray_job → ${textOf(res)}`);
    expect(f.cause).toBe('actor_died');
    expect(f.dead_actors).toEqual([
      expect.objectContaining({ class_name: 'Loader', death_cause: 'WORKER_DIED (INTENDED_USER_EXIT)' }),
    ]);
  }, 240_000);

  it("names the failed task and its error type for a job whose task raises, with the log's traceback", async () => {
    await failedJob('python task_raise.py', 'task-raise');
    const res = await s.client.callTool({
      name: 'retrieve_logs',
      arguments: { submission_id: 'task-raise' },
    });
    const f = (res.structuredContent as { failure: Failure }).failure;
    console.log(`retrieve_logs failure → ${JSON.stringify(f)}`);
    expect(f.cause).toBe('task_failed');
    expect(f.failed_tasks).toEqual([
      expect.objectContaining({
        name: 'load_shard',
        error_type: 'TASK_EXECUTION_EXCEPTION',
        error: expect.stringContaining('ValueError: shard 7 is corrupt'),
      }),
    ]);
    expect(textOf(res)).toMatch(
      /Ray's record \(untrusted\): task load_shard failed: TASK_EXECUTION_EXCEPTION/,
    );
  }, 240_000);
});
