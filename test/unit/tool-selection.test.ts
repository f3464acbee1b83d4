import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, type Toolset } from '../../src/config.js';
import { ALL_TOOLS, selectTools } from '../../src/mcp/tools/index.js';
import { type AnyToolDefinition, defineTool } from '../../src/mcp/tools/tool.js';

const make = (
  name: string,
  readOnlyHint: boolean,
  destructiveHint: boolean,
  toolsets: Toolset[] = ['local'],
): AnyToolDefinition =>
  defineTool({
    name,
    toolsets,
    title: name,
    description: name,
    input: z.object({}),
    output: z.object({}),
    annotations: { readOnlyHint, destructiveHint, idempotentHint: true, openWorldHint: false },
    handler: async () => ({ structured: {}, text: '' }),
  });

const tools = [make('read', true, false), make('write', false, false), make('destroy', false, true)];
const names = (ts: AnyToolDefinition[]) => ts.map((t) => t.name);

describe('tool selection', () => {
  it('serves everything by default', () => {
    expect(names(selectTools(tools, { readOnly: false, destructive: true }))).toEqual([
      'read',
      'write',
      'destroy',
    ]);
  });
  it('--read-only keeps only read-only tools', () => {
    expect(names(selectTools(tools, { readOnly: true, destructive: true }))).toEqual(['read']);
  });
  it('--no-destructive drops destructive tools', () => {
    expect(names(selectTools(tools, { readOnly: false, destructive: false }))).toEqual(['read', 'write']);
  });
  it('--toolsets keeps the tools of the groups named, with --read-only applied on top', () => {
    const ts = [
      make('both', true, false, ['local', 'kuberay']),
      make('kube', false, true, ['kuberay']),
      make('gke', true, false, ['cloud']),
    ];
    expect(names(selectTools(ts, { readOnly: false, destructive: true, toolsets: ['local'] }))).toEqual([
      'both',
    ]);
    expect(names(selectTools(ts, { readOnly: false, destructive: true, toolsets: ['kuberay'] }))).toEqual([
      'both',
      'kube',
    ]);
    expect(
      names(selectTools(ts, { readOnly: true, destructive: true, toolsets: ['kuberay', 'cloud'] })),
    ).toEqual(['both', 'gke']);
  });
  it('--toolsets is parsed from the flag or RAY_MCP_TOOLSETS; all by default; unknown names refused', () => {
    const env = { HOME: '/tmp' };
    expect(loadConfig({}, env).toolsets).toEqual(['local', 'kuberay', 'cloud']);
    expect(loadConfig({ toolsets: 'local, cloud' }, env).toolsets).toEqual(['local', 'cloud']);
    expect(loadConfig({}, { ...env, RAY_MCP_TOOLSETS: 'kuberay' }).toolsets).toEqual(['kuberay']);
    expect(loadConfig({ toolsets: 'all' }, env).toolsets).toEqual(['local', 'kuberay', 'cloud']);
    expect(() => loadConfig({ toolsets: 'local,gpu' }, env)).toThrow(/toolsets must be/);
  });
  it('every real tool belongs to a toolset, and every Python-era tool is in the default selection', () => {
    for (const t of ALL_TOOLS) expect(t.toolsets.length, t.name).toBeGreaterThan(0);
    const served = names(selectTools(ALL_TOOLS, loadConfig({}, { HOME: '/tmp' })));
    expect(served).toEqual(names([...ALL_TOOLS]));
  });
  it('every real tool is annotated consistently: read-only tools are never destructive', () => {
    for (const t of ALL_TOOLS) {
      if (t.annotations.readOnlyHint) expect(t.annotations.destructiveHint, t.name).toBe(false);
    }
  });
});
