/**
 * docs/TOOLS.md, generated from the tool definitions themselves so it cannot drift from the code
 * (a test compares the file with this output; `npm run docs` rewrites it).
 */
import { z } from 'zod';
import { ALL_TOOLS } from './tools/index.js';
import type { AnyToolDefinition } from './tools/tool.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.type === 'array' && s.items) return `array of ${typeOf(s.items)}`;
  return Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function toolSection(tool: AnyToolDefinition): string {
  const input = z.toJSONSchema(tool.input, { io: 'input' }) as JsonSchema;
  const output = z.toJSONSchema(tool.output) as JsonSchema;
  const a = tool.annotations;
  const hints = [
    a.readOnlyHint ? 'read-only' : 'writes',
    a.destructiveHint ? 'destructive' : undefined,
    a.idempotentHint ? 'idempotent' : undefined,
    a.openWorldHint ? 'open world' : undefined,
  ].filter(Boolean);
  const lines = [
    `## \`${tool.name}\` — ${tool.title}`,
    '',
    `*${hints.join(', ')}*`,
    '',
    tool.description,
    '',
  ];
  const props = Object.entries(input.properties ?? {});
  if (props.length) {
    lines.push('| argument | type | required | description |', '| --- | --- | --- | --- |');
    for (const [name, schema] of props) {
      const required = input.required?.includes(name) ? 'yes' : 'no';
      lines.push(
        `| \`${name}\` | ${cell(typeOf(schema))} | ${required} | ${cell(schema.description ?? '')} |`,
      );
    }
  } else {
    lines.push('No arguments.');
  }
  lines.push(
    '',
    `Result fields: ${Object.keys(output.properties ?? {})
      .map((k) => `\`${k}\``)
      .join(', ')}.`,
    '',
  );
  return lines.join('\n');
}

export function renderToolsDoc(tools: readonly AnyToolDefinition[] = ALL_TOOLS): string {
  return [
    '# Tools',
    '',
    '<!-- Generated from src/mcp/tools by `npm run docs`; do not edit by hand. -->',
    '',
    'Every tool returns `structuredContent` that matches its output schema plus one short text line. Errors a user',
    'can act on come back as `isError: true` with the cause and the fix. `--read-only` serves only read-only tools;',
    '`--no-destructive` leaves out destructive ones.',
    '',
    ...tools.map(toolSection),
  ].join('\n');
}
