/**
 * The main job, end to end through a real MCP client over stdio, exactly as Claude Desktop or
 * Cursor would drive ray-mcp. Run with `npm run demo`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CallToolResult, Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { projectRoot } from '../src/paths.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  say(`\n▶ ${name} ${JSON.stringify(args)}`);
  const result = await client.callTool({ name, arguments: args });
  say(`  ${result.isError ? '✗' : '✓'} ${text(result).split('\n').join('\n    ')}`);
  if (result.isError) throw new Error(`${name} failed`);
  return result;
}

async function main(): Promise<void> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(projectRoot, 'dist', 'ray-mcp.js'), '--log-level', 'warn'],
    stderr: 'inherit',
  });
  const client = new Client({ name: 'ray-mcp-demo', version: '1.0.0' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    say(`ray-mcp serves ${tools.length} tools: ${tools.map((t) => t.name).join(', ')}`);
    const env = await call(client, 'check_environment');
    const report = env.structuredContent as { ready: { localRay: boolean }; fixes: string[] };
    for (const fix of report.fixes) say(`    · ${fix}`);
    if (!report.ready.localRay) throw new Error('Ray is not usable here; see the fix above.');

    say('\n▶ init_ray_cluster {"num_cpus":1,"worker_nodes":[{"count":1,"num_cpus":1}]}  (with progress)');
    const started = await client.callTool(
      { name: 'init_ray_cluster', arguments: { num_cpus: 1, worker_nodes: [{ count: 1, num_cpus: 1 }] } },
      { timeout: 300_000, onprogress: (p) => say(`    … ${p.progress}/${p.total} ${p.message ?? ''}`) },
    );
    say(`  ${started.isError ? '✗' : '✓'} ${text(started)}`);
    if (started.isError) throw new Error('init_ray_cluster failed');
    const cluster = started.structuredContent as { cluster_id: string };
    try {
      const inspected = await call(client, 'inspect_ray_cluster', { cluster_id: cluster.cluster_id });
      const nodes = (inspected.structuredContent as { nodes: { name: string; alive: boolean }[] }).nodes;
      say(`    nodes: ${nodes.map((n) => `${n.name}${n.alive ? '' : ' (down)'}`).join(', ')}`);
      await call(client, 'list_ray_clusters');

      // A job whose code lives in a local folder: ray-mcp zips and uploads it as the job's working_dir.
      const workingDir = mkdtempSync(join(tmpdir(), 'ray-mcp-demo-'));
      writeFileSync(join(workingDir, 'squares.py'), 'def square(x):\n    return x * x\n');
      writeFileSync(
        join(workingDir, 'main.py'),
        [
          'import ray, squares',
          'ray.init()',
          '@ray.remote',
          'def work(i):',
          '    return squares.square(i)',
          'for step in range(3):',
          '    print(f"step {step}: sum of squares = {sum(ray.get([work.remote(i) for i in range(100)]))}", flush=True)',
          '',
        ].join('\n'),
      );
      await call(client, 'submit_ray_job', {
        cluster_id: cluster.cluster_id,
        entrypoint: 'python main.py',
        submission_id: 'demo-job',
        runtime_env: { working_dir: workingDir },
      });
      say('\n▶ wait_for_ray_job {"submission_id":"demo-job"}  (with progress)');
      const waited = await client.callTool(
        {
          name: 'wait_for_ray_job',
          arguments: { cluster_id: cluster.cluster_id, submission_id: 'demo-job', timeout_seconds: 180 },
        },
        {
          timeout: 300_000,
          resetTimeoutOnProgress: true,
          onprogress: (p) => say(`    … ${p.message ?? ''}`),
        },
      );
      say(`  ${waited.isError ? '✗' : '✓'} ${text(waited)}`);
      say('\n▶ retrieve_logs {"submission_id":"demo-job","lines":5}');
      const logs = await client.callTool({
        name: 'retrieve_logs',
        arguments: { cluster_id: cluster.cluster_id, submission_id: 'demo-job', lines: 5 },
      });
      if (logs.isError) throw new Error(`retrieve_logs failed: ${text(logs)}`);
      say(`  ✓ the last ${(logs.structuredContent as { lines: number }).lines} lines:`);
      for (const line of String((logs.structuredContent as { log: string }).log).split('\n'))
        say(`    | ${line}`);
      await call(client, 'list_ray_jobs', { cluster_id: cluster.cluster_id });
      rmSync(workingDir, { recursive: true, force: true });
      if (waited.isError || (waited.structuredContent as { status: string }).status !== 'SUCCEEDED') {
        throw new Error('the demo job did not succeed');
      }
    } finally {
      await call(client, 'stop_ray_cluster', { cluster_id: cluster.cluster_id });
    }
    say('\nDemo finished.');
  } finally {
    await client.close();
  }
}

main().catch((err) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
