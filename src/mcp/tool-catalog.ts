/**
 * The tools as the MCP server registers them. From the bundle: the build's cards and JSON Schemas
 * (listed-schemas.ts), with each tool's zod schemas and handler loaded on its first call (the
 * tools' module is a chunk of its own, also loaded once the actor system starts). From source (the
 * tests): every tool loaded at once, its schemas converted on the first tools/list.
 */
import { type Config, TOOLSETS } from '../config.js';
import { type ListedSchemas, type PrebuiltTools, prebuiltTools, type ToolCard } from './listed-schemas.js';
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

type LoadTools = () => Promise<readonly AnyToolDefinition[]>;
const importTools: LoadTools = () => import('./tools/index.js').then((m) => m.ALL_TOOLS);

/** The tools as this build has them: the build's cards when bundled, else every tool loaded now. */
export async function loadToolCatalog(): Promise<ToolCatalog> {
  const prebuilt = prebuiltTools();
  if (prebuilt) return prebuiltCatalog(prebuilt);
  const loaded = new Map((await importTools()).map((t) => [t.name, t]));
  return { cards: [...loaded.values()], loaded, tool: async (name) => found(loaded, name) };
}

/**
 * The bundle's catalog: `prebuilt` cards and schemas, the tools themselves loaded by `load` on
 * first use (the tests pass the build's own computeListed and a loader of their choice).
 */
export function prebuiltCatalog(prebuilt: PrebuiltTools, load: LoadTools = importTools): ToolCatalog {
  let all: Promise<ReadonlyMap<string, AnyToolDefinition>> | undefined;
  const tools = () =>
    (all ??= load().then(
      (list) => new Map(list.map((t) => [t.name, t])),
      (err) => {
        all = undefined; // a failed load (EMFILE, say) is tried again by the next call
        throw err;
      },
    ));
  return {
    cards: prebuilt.cards,
    listed: prebuilt.schemas,
    tool: async (name) => found(await tools(), name),
  };
}

function found(tools: ReadonlyMap<string, AnyToolDefinition>, name: string): AnyToolDefinition {
  const t = tools.get(name);
  if (!t) throw new Error(`no tool named ${name}`);
  return t;
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
