/**
 * Every tool's input and output schema, as tools/list shows them, constrains every value it
 * describes: no sub-schema without a validation keyword (`{}` accepts anything), no bare boolean
 * schema, no `type` array, no remote `$ref`. These are the findings of the MCP Inspector's
 * `--cli --method tools/list --strict` (test/e2e/inspector-strict.test.ts runs the real one); this
 * walk is the fast check the unit suite runs on every change.
 */
import { describe, expect, it } from 'vitest';
import { fakeServers } from '../helpers/fake-server.js';

const start = fakeServers();

/** Keywords that make a schema check something (the Inspector's list, `if` without `then`/`else` excluded). */
const CONSTRAINING = new Set([
  'type',
  'enum',
  'const',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'format',
  'contentMediaType',
  'contentEncoding',
  'contentSchema',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'dependentRequired',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'items',
  'prefixItems',
  'contains',
  'additionalItems',
  'unevaluatedItems',
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'propertyNames',
  'dependentSchemas',
  'dependencies',
  '$ref',
  '$dynamicRef',
]);
const ONE = [
  'items',
  'contains',
  'not',
  'propertyNames',
  'if',
  'then',
  'else',
  'additionalProperties',
  'unevaluatedProperties',
  'additionalItems',
  'unevaluatedItems',
  'contentSchema',
];
const MANY = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const MAP = ['properties', 'patternProperties', 'dependentSchemas', 'dependencies', '$defs', 'definitions'];
const BOOLEAN_OK = new Set([
  'additionalProperties',
  'unevaluatedProperties',
  'additionalItems',
  'unevaluatedItems',
]);

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Findings in one schema, as "path: problem". */
function lint(schema: unknown, path = '', keyword?: string, out: string[] = []): string[] {
  if (typeof schema === 'boolean') {
    if (!keyword || !BOOLEAN_OK.has(keyword)) out.push(`${path}: bare ${schema}`);
    return out;
  }
  if (!isNode(schema)) return out;
  if (Array.isArray(schema.type)) out.push(`${path}: type array`);
  if (typeof schema.$ref === 'string' && !schema.$ref.startsWith('#')) out.push(`${path}: remote $ref`);
  const constrains =
    Object.keys(schema).some((k) => CONSTRAINING.has(k)) ||
    ('if' in schema && ('then' in schema || 'else' in schema));
  if (!constrains && keyword !== 'not') out.push(`${path || '(root)'}: no validation keyword`);
  for (const k of MAP)
    if (isNode(schema[k]))
      for (const [name, sub] of Object.entries(schema[k])) lint(sub, `${path}.${k}.${name}`, k, out);
  for (const k of MANY)
    if (Array.isArray(schema[k])) {
      for (const [i, sub] of schema[k].entries()) lint(sub, `${path}.${k}[${i}]`, k, out);
    }
  for (const k of ONE) {
    if (!(k in schema)) continue;
    const v = schema[k];
    if (k === 'items' && Array.isArray(v)) {
      for (const [i, sub] of v.entries()) lint(sub, `${path}.items[${i}]`, k, out);
    } else lint(v, `${path}.${k}`, k, out);
  }
  return out;
}

describe('tool schemas are strict', () => {
  it('no tool schema has an unconstrained sub-schema', async () => {
    const { client } = await start();
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(20);
    const findings = tools.flatMap((t) => [
      ...lint(t.inputSchema).map((f) => `${t.name} inputSchema${f}`),
      ...lint(t.outputSchema).map((f) => `${t.name} outputSchema${f}`),
    ]);
    expect(findings).toEqual([]);
  });

  it('the walk finds what the Inspector warns about', () => {
    expect(lint({ type: 'object', additionalProperties: {} })).toEqual([
      '.additionalProperties: no validation keyword',
    ]);
    expect(lint({ type: ['string', 'null'] })).toEqual([': type array']);
    expect(lint({ type: 'object', properties: { a: true } })).toEqual(['.properties.a: bare true']);
    expect(lint({ anyOf: [{ type: 'string' }, { description: 'x' }] })).toEqual([
      '.anyOf[1]: no validation keyword',
    ]);
    expect(lint({ not: {} })).toEqual([]);
  });
});
