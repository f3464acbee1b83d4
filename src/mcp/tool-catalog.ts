/**
 * The tools as the MCP server registers them. From the bundle: the build's cards and JSON Schemas
 * (listed-schemas.ts), with each tool's zod schemas and handler loaded on its first call (the
 * tools' module is a chunk of its own, also loaded once the actor system starts). From source (the
 * tests): every tool loaded at once, its schemas converted on the first tools/list.
 */
import { type Config, TOOLSETS } from '../config.js';
import { type ListedSchemas, prebuiltTools, type ToolCard } from './listed-schemas.js';
import type { AnyToolDefinition } from './tools/tool.js';

export interface ToolCatalog {
  /** Every tool, in tools/list order. */
  cards: readonly ToolCard[];
  /** The listed JSON Schemas the build computed (bundle only). */
  listed?: ListedSchemas;
  /** Every tool in full, when already loaded (from source). */
  loaded?: ReadonlyMap<string, AnyToolDefinition>;
  /** A tool in full: its zod schemas, handler and confirmation (loads them the first time). */
  tool(name: string): Promise<AnyToolDefinition>;
}

export async function loadToolCatalog(): Promise<ToolCatalog> {
  let all: Promise<ReadonlyMap<string, AnyToolDefinition>> | undefined;
  const load = () =>
    (all ??= import('./tools/index.js').then(({ ALL_TOOLS }) => new Map(ALL_TOOLS.map((t) => [t.name, t]))));
  const tool = async (name: string) => {
    const t = (await load()).get(name);
    if (!t) throw new Error(`no tool named ${name}`);
    return t;
  };
  const prebuilt = prebuiltTools();
  if (prebuilt) return { cards: prebuilt.cards, listed: prebuilt.schemas, tool };
  const loaded = await load();
  return { cards: [...loaded.values()], loaded, tool };
}

/**
 * --toolsets keeps the tools of the groups named; --read-only keeps read-only tools;
 * --no-destructive drops destructive ones. Decided once, at registration.
 */
export function selectTools<T extends Pick<ToolCard, 'toolsets' | 'annotations'>>(
  tools: readonly T[],
  config: Pick<Config, 'readOnly' | 'destructive'> & Partial<Pick<Config, 'toolsets'>>,
): T[] {
  const sets = config.toolsets ?? TOOLSETS;
  return tools.filter(
    (t) =>
      t.toolsets.some((s) => sets.includes(s)) &&
      (!config.readOnly || t.annotations.readOnlyHint) &&
      (config.destructive || !t.annotations.destructiveHint),
  );
}
