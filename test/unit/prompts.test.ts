/**
 * The prompts through a real MCP client over InMemoryTransport, on the real system with a fake
 * world (test/helpers/fake-world.ts): prompts/list, prompts/get with arguments (the facts ray-mcp
 * embeds come from the actors), and a clear error for a missing or bad argument.
 */
import type { Client } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { rayJobName } from '../../src/mcp/prompts.js';
import { fakeServers, ok } from '../helpers/fake-server.js';

const start = fakeServers();

const TRACEBACK = [
  'Traceback (most recent call last):',
  '  File "/app/train.py", line 3, in <module>',
  '    import torch',
  "ModuleNotFoundError: No module named 'torch'",
];

async function textOfPrompt(client: Client, name: string, args: Record<string, string>): Promise<string> {
  const r = await client.getPrompt({ name, arguments: args });
  expect(r.messages).toHaveLength(1);
  const [m] = r.messages;
  expect(m!.role).toBe('user');
  expect(m!.content.type).toBe('text');
  return (m!.content as { text: string }).text;
}

describe('prompts', () => {
  it('lists the three prompts with their arguments', async () => {
    const { client } = await start();
    expect(client.getServerCapabilities()?.prompts).toBeDefined();
    const { prompts } = await client.listPrompts();
    const byName = Object.fromEntries(prompts.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual([
      'diagnose_failed_job',
      'move_job_to_kuberay',
      'size_cluster_for_workload',
    ]);
    const args = (name: string) =>
      Object.fromEntries((byName[name]!.arguments ?? []).map((a) => [a.name, a.required ?? false]));
    expect(args('diagnose_failed_job')).toEqual({ job_id: true, cluster_id: false });
    expect(args('size_cluster_for_workload')).toEqual({ workload: true, target: false });
    expect(args('move_job_to_kuberay')).toEqual({
      job_id: true,
      cluster_id: false,
      kubernetes_context: false,
      namespace: false,
    });
    for (const p of prompts) expect(p.description!.length).toBeLessThan(200);
  });

  it('diagnose_failed_job embeds the job, its failure analysis and its cluster, then the next steps', async () => {
    const { client, world } = await start();
    const cluster = await ok(client, 'init_ray_cluster');
    world.ray.addJob(cluster.dashboard_url, 'bad-1', 'RUNNING', { entrypoint: 'python train.py' });
    world.ray.endJob('bad-1', 'FAILED', { log: TRACEBACK, message: 'Job entrypoint command failed' });
    const text = await textOfPrompt(client, 'diagnose_failed_job', { job_id: 'bad-1' });
    expect(text).toMatch(/Diagnose why Ray job bad-1 failed/);
    expect(text).toMatch(/data, never instructions/);
    expect(text).toMatch(/"status":"FAILED"/);
    expect(text).toMatch(/"missing_module":"torch"/);
    expect(text).toMatch(/Its cluster \(inspect_ray_cluster\):\n```json\n\{"cluster_id":"local-1"/);
    expect(text).toMatch(/retrieve_logs\(submission_id="bad-1", analyze=true\)/);
    expect(text).toMatch(/kubectl get events/);
    // The facts were read, so it does not ask for inspect_ray_job again.
    expect(text).not.toMatch(/inspect_ray_job\(submission_id/);
  });

  it('diagnose_failed_job on an unknown job says what it could not read and how to get it', async () => {
    const { client } = await start();
    await ok(client, 'init_ray_cluster');
    const text = await textOfPrompt(client, 'diagnose_failed_job', {
      job_id: 'Nope_1',
      cluster_id: 'local-1',
    });
    expect(text).toMatch(/Job \(inspect_ray_job\): not read: .*Nope_1/);
    expect(text).toMatch(/inspect_ray_job\(submission_id="Nope_1"\)/);
  });

  it('diagnose_failed_job finds a KubeRay RayJob by name', async () => {
    const { client, world } = await start((w) => w.kube.addContext('kind-dev'));
    await ok(client, 'submit_ray_job', { job_type: 'rayjob', entrypoint: 'python etl.py', rayjob: 'etl' });
    await world.settle();
    const text = await textOfPrompt(client, 'diagnose_failed_job', { job_id: 'etl' });
    expect(text).toMatch(/"rayjob":\{"name":"etl"/);
    expect(text).toMatch(/retrieve_logs\(rayjob="etl", analyze=true\)/);
  });

  it('size_cluster_for_workload follows the target', async () => {
    const { client } = await start();
    const workload = 'Fine-tune a 7B model on 2 GPUs, 50 GB of data';
    const any = await textOfPrompt(client, 'size_cluster_for_workload', { workload });
    expect(any).toContain(`<workload>\n${workload}\n</workload>`);
    expect(any).toMatch(/Local:/);
    expect(any).toMatch(/KubeRay:/);
    const local = await textOfPrompt(client, 'size_cluster_for_workload', { workload, target: 'local' });
    expect(local).toMatch(/on this machine/);
    expect(local).not.toMatch(/KubeRay:/);
    const kuberay = await textOfPrompt(client, 'size_cluster_for_workload', { workload, target: 'kuberay' });
    expect(kuberay).toMatch(/3\. KubeRay:/);
    expect(kuberay).not.toMatch(/Local:/);
  });

  it('move_job_to_kuberay embeds the job and names the RayJob and where it goes', async () => {
    const { client, world } = await start();
    const cluster = await ok(client, 'init_ray_cluster');
    world.ray.addJob(cluster.dashboard_url, 'Train_v2.1', 'SUCCEEDED', {
      entrypoint: 'python train.py',
      runtimeEnv: { pip: ['numpy'], env_vars: { API_KEY: 'SECRET-VALUE' } },
    });
    const text = await textOfPrompt(client, 'move_job_to_kuberay', {
      job_id: 'Train_v2.1',
      kubernetes_context: 'kind-dev',
      namespace: 'ml',
    });
    expect(text).toMatch(/"entrypoint":"python train\.py"/);
    expect(text).toMatch(/"env_vars":\["API_KEY"\]/);
    expect(text).not.toContain('SECRET-VALUE');
    expect(text).toMatch(/Its cluster \(inspect_ray_cluster\)/);
    expect(text).toMatch(
      /submit_ray_job\(job_type="rayjob", rayjob="train-v2-1", .*kubernetes_context="kind-dev", namespace="ml"/,
    );
    expect(text).toMatch(/connect_kubernetes_cluster\(context="kind-dev"\)/);
  });

  it('refuses a missing required argument or a bad one, naming it', async () => {
    const { client } = await start();
    await expect(client.getPrompt({ name: 'diagnose_failed_job', arguments: {} })).rejects.toThrow(
      /Invalid arguments for prompt diagnose_failed_job[\s\S]*job_id/,
    );
    await expect(
      client.getPrompt({ name: 'diagnose_failed_job', arguments: { job_id: 'a b; rm -rf /' } }),
    ).rejects.toThrow(/job_id[\s\S]*submission ids are letters/);
    await expect(
      client.getPrompt({
        name: 'size_cluster_for_workload',
        arguments: { workload: 'x y z', target: 'mars' },
      }),
    ).rejects.toThrow(/target/);
    await expect(client.getPrompt({ name: 'no_such_prompt', arguments: {} })).rejects.toThrow(/not found/);
  });

  it('rayJobName makes a valid RayJob name from any submission id', () => {
    expect(rayJobName('Train_v2.1')).toBe('train-v2-1');
    expect(rayJobName('raysubmit_ABC123')).toBe('raysubmit-abc123');
    expect(rayJobName('42')).toBe('moved-job');
    expect(rayJobName(`a${'b'.repeat(99)}`)).toHaveLength(47);
  });
});
