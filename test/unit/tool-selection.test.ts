import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ALL_TOOLS, selectTools } from '../../src/mcp/tools/index.js';
import { type AnyToolDefinition, defineTool } from '../../src/mcp/tools/tool.js';

const make = (name: string, readOnlyHint: boolean, destructiveHint: boolean): AnyToolDefinition =>
  defineTool({
    name,
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
  it('every real tool is annotated consistently: read-only tools are never destructive', () => {
    for (const t of ALL_TOOLS) {
      if (t.annotations.readOnlyHint) expect(t.annotations.destructiveHint, t.name).toBe(false);
    }
  });
});
