/**
 * The main job, end to end through a real MCP client over stdio, exactly as Claude Desktop or
 * Cursor would drive ray-mcp. Run with `npm run demo`.
 */
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
    args: [join(projectRoot, 'dist', 'src', 'main.js'), '--log-level', 'warn'],
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
