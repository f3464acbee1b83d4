/**
 * The MCP Inspector's own schema lint: `inspector --cli node dist/ray-mcp.js --method tools/list
 * --strict` (the pinned devDependency, run from node_modules; no browser, no network) exits 0 and
 * reports nothing: no error and no warning about any tool's input or output schema.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseEnv, MAIN } from '../helpers/mcp.js';

const require = createRequire(import.meta.url);
const INSPECTOR = join(
  dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients',
  'launcher',
  'build',
  'index.js',
);

describe('MCP Inspector --strict', () => {
  it('lints every tool schema clean', () => {
    const run = spawnSync(
      process.execPath,
      [INSPECTOR, '--cli', process.execPath, MAIN, '--method', 'tools/list', '--strict'],
      { env: baseEnv(), encoding: 'utf8', timeout: 90_000 },
    );
    const report = run.stderr
      .split('\n')
      .filter((l) => /^(Warning|Error):|Schema portability|schema portability/.test(l));
    expect(report, run.stderr).toEqual([]);
    expect(run.status, run.stderr).toBe(0);
    const { tools } = JSON.parse(run.stdout) as { tools: { name: string }[] };
    expect(tools.map((t) => t.name)).toContain('get_cloud_config_template');
  });
});
