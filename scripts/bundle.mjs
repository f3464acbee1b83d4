#!/usr/bin/env node
// Bundles ray-mcp's own modules (the tsc build in dist/src) into one file, dist/ray-mcp.js, the
// command the package runs: one module to load instead of ~130, and what tools/list shows (each
// tool's card and JSON Schemas) computed here once instead of at every start, so the tools' zod
// schemas and handlers load only after the handshake (src/mcp/listed-schemas.ts,
// src/mcp/tool-catalog.ts). npm packages stay external. Run after tsc (scripts/setup.mjs does).
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** npm packages bundled into dist/ray-mcp.js (the others load from node_modules). */
const INLINED = ['pino', 'commander'];
const dist = join(root, 'dist');
const load = (path) => import(pathToFileURL(join(dist, 'src', path)).href);

const { ALL_TOOLS } = await load('mcp/tools/index.js');
const { computeListed } = await load('mcp/listed-schemas.js');
const listed = await computeListed(ALL_TOOLS);

// Modules loaded on demand (the HTTP front, `setup`, the cloud clients...) stay out of the start-up
// path as chunks of their own.
rmSync(join(dist, 'chunks'), { recursive: true, force: true });
await build({
  entryPoints: { 'ray-mcp': join(dist, 'src', 'main.js') },
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // npm packages stay external (loaded from node_modules), except the two only the front needs at
  // every start, pino and commander: inlined, their ~20 files cost more to find and load than to
  // run. They are CommonJS: the banner gives their require() of Node's modules a `require`.
  external: Object.keys(pkg.dependencies)
    .filter((name) => !INLINED.includes(name))
    .flatMap((name) => [name, `${name}/*`]),
  banner: {
    js: "import { createRequire as __rayMcpRequire } from 'node:module';\nconst require = __rayMcpRequire(import.meta.url);",
  },
  define: { __RAY_MCP_LISTED__: JSON.stringify(listed) },
  logLevel: 'warning',
});
