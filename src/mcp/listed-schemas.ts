/**
 * The JSON Schemas tools/list shows, computed once at build time and inlined into the shipped
 * bundle (scripts/bundle.mjs), so a start-up converts no zod schema: converting the tools'
 * schemas was most of the time from spawn to the first tools/list. Code run from source or from
 * the tsc build (the tests) has no prebuilt set and converts on the first tools/list; the golden
 * tools/list, which both paths must match, keeps them equal.
 */
import type { AnyToolDefinition } from './tools/tool.js';

type Json = Record<string, unknown>;
/** Tool name → the listed input and output JSON Schema. */
export type ListedSchemas = Record<string, { input: Json; output: Json }>;

/** The JSON Schema dialect the SDK asks for (JSON_SCHEMA_CONVERSION_TARGET); others are converted. */
export const LISTED_TARGET = 'draft-2020-12';

declare const __RAY_MCP_LISTED__: ListedSchemas | undefined;

/** The build's schemas, when this code runs from the bundle. */
export function prebuiltListed(): ListedSchemas | undefined {
  return typeof __RAY_MCP_LISTED__ === 'undefined' ? undefined : __RAY_MCP_LISTED__;
}

/** The listed schemas of `tools`, converted the way tools/list converts them (the build runs this). */
export async function computeListed(tools: readonly AnyToolDefinition[]): Promise<ListedSchemas> {
  const { boundedSchema } = await import('./input-safety.js');
  const { listedInputSchema, listedOutputSchema } = await import('./schema-json.js');
  const out: ListedSchemas = {};
  for (const tool of tools) {
    const target = { target: LISTED_TARGET } as const;
    out[tool.name] = {
      input: boundedSchema(tool.input, listedInputSchema)['~standard'].jsonSchema.input(target) as Json,
      output: boundedSchema(tool.output, listedOutputSchema)['~standard'].jsonSchema.output(target) as Json,
    };
  }
  return out;
}
