/**
 * What tools/list shows of a zod schema: the JSON Schema zod derives, made compact. The zod schema
 * stays the validator (input at the edge, output before a result leaves); the listed JSON Schema
 * only has to be true of every value the zod schema accepts, so it may say less.
 *
 * - Input (a model reads it on every turn): types, enums, required keys and the descriptions;
 *   without `$schema`, regex patterns, key patterns, numeric bounds, length and item limits and
 *   `additionalProperties: false` (zod checks those and says what was wrong and how to fix it).
 *   Descriptions deeper than `INPUT_DESCRIBE_DEPTH` (the fields of an array's items) are left out.
 * - Output (for validation only): the same, without descriptions, and shallow: below `OUTPUT_DEPTH`
 *   an object or an array is listed by its type alone.
 *
 * Every sub-schema keeps a constraining keyword (the Inspector's `--strict` lint: no `{}`).
 */

type Json = Record<string, unknown>;

/** Keywords zod checks that a reader of tools/list does not need. */
const INPUT_DROP: ReadonlySet<string> = new Set([
  '$schema',
  'pattern',
  'propertyNames',
  'maxItems',
  'minItems',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
]);
const OUTPUT_DROP: ReadonlySet<string> = new Set([...INPUT_DROP, 'description', 'default']);
/** Levels of an output schema listed in full: the result's fields and what each directly holds. */
const OUTPUT_DEPTH = 1;
/**
 * Deepest level of an input schema whose descriptions are listed: the arguments and what an object
 * argument holds. Deeper (the fields of an array's items) they repeat what the top level says.
 */
const INPUT_DESCRIBE_DEPTH = 2;

/** Keywords whose value is a map of names to sub-schemas. */
const SCHEMA_MAPS: ReadonlySet<string> = new Set(['properties', '$defs', 'definitions', 'patternProperties']);
/** Keywords whose value is one sub-schema (nesting one level deeper). */
const NESTED: ReadonlySet<string> = new Set(['items', 'additionalProperties', 'contains', 'not']);

function compact(
  schema: unknown,
  drop: ReadonlySet<string>,
  depth: number,
  maxDepth: number,
  describeDepth = Number.POSITIVE_INFINITY,
): unknown {
  if (Array.isArray(schema)) return schema.map((s) => compact(s, drop, depth, maxDepth, describeDepth));
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Json;
  if (depth >= maxDepth && (s.type === 'object' || s.type === 'array')) return { type: s.type };
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (drop.has(k)) continue;
    if (k === 'description' && depth > describeDepth) continue;
    if (k === 'additionalProperties' && v === false) continue;
    if (SCHEMA_MAPS.has(k) && v && typeof v === 'object') {
      out[k] = Object.fromEntries(
        Object.entries(v as Json).map(([name, sub]) => [
          name,
          compact(sub, drop, depth + 1, maxDepth, describeDepth),
        ]),
      );
    } else if (NESTED.has(k)) {
      out[k] = compact(v, drop, depth + 1, maxDepth, describeDepth);
    } else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf' || k === 'prefixItems') {
      out[k] = compact(v, drop, depth, maxDepth, describeDepth);
    } else {
      out[k] = v;
    }
  }
  // An object or array whose every listed detail was dropped still says what it is.
  if (Object.keys(out).length === 0 && typeof s.type === 'string') out.type = s.type;
  return out;
}

/** An input schema as tools/list shows it. */
export function listedInputSchema(json: Json): Json {
  return compact(json, INPUT_DROP, 0, Number.POSITIVE_INFINITY, INPUT_DESCRIBE_DEPTH) as Json;
}

/** An output schema as tools/list shows it. */
export function listedOutputSchema(json: Json): Json {
  return compact(json, OUTPUT_DROP, 0, OUTPUT_DEPTH) as Json;
}
