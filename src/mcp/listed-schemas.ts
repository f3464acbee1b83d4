/**
 * What tools/list shows, computed once at build time and inlined into the shipped bundle
 * (scripts/bundle.mjs): each tool's card (name, title, description, toolsets, annotations) and its
 * JSON Schemas. A start-up of the bundle then neither converts a zod schema nor builds one: the
 * tools' zod schemas and handlers load on the first call (tool-catalog.ts). Code run from source or
 * from the tsc build (the tests) has no prebuilt set: it loads the tools at start and converts on
 * the first tools/list; the golden tools/list, which both paths must match, keeps them equal.
 */
import type { AnyToolDefinition } from './tools/tool.js';

type Json = Record<string, unknown>;
/** Tool name → the listed input and output JSON Schema. */
export type ListedSchemas = Record<string, { input: Json; output: Json }>;

/** What registering a tool and choosing it (--toolsets, --read-only...) needs, without its schemas. */
export type ToolCard = Pick<AnyToolDefinition, 'name' | 'title' | 'description' | 'toolsets' | 'annotations'>;

/** The build's view of every tool, in tools/list order. */
export interface PrebuiltTools {
  cards: ToolCard[];
  schemas: ListedSchemas;
}

/** The JSON Schema dialect the SDK asks for (JSON_SCHEMA_CONVERSION_TARGET); others are converted. */
export const LISTED_TARGET = 'draft-2020-12';

declare const __RAY_MCP_LISTED__: PrebuiltTools | undefined;

/** The build's cards and schemas, when this code runs from the bundle. */
export function prebuiltTools(): PrebuiltTools | undefined {
  return typeof __RAY_MCP_LISTED__ === 'undefined' ? undefined : __RAY_MCP_LISTED__;
}

/** The cards and listed schemas of `tools`, converted the way tools/list converts them (the build runs this). */
export async function computeListed(tools: readonly AnyToolDefinition[]): Promise<PrebuiltTools> {
  const { boundedSchema } = await import('./input-safety.js');
  const { listedInputSchema, listedOutputSchema } = await import('./schema-json.js');
  const schemas: ListedSchemas = {};
  for (const tool of tools) {
    const target = { target: LISTED_TARGET } as const;
    schemas[tool.name] = {
      input: boundedSchema(tool.input, listedInputSchema)['~standard'].jsonSchema.input(target) as Json,
      output: boundedSchema(tool.output, listedOutputSchema)['~standard'].jsonSchema.output(target) as Json,
    };
  }
  const cards = tools.map(({ name, title, description, toolsets, annotations }) => ({
    name,
    title,
    description,
    toolsets,
    annotations,
  }));
  return { cards, schemas };
}
