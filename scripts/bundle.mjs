#!/usr/bin/env node
// Bundles ray-mcp's own modules (the tsc build in dist/src) into one file, dist/ray-mcp.js, the
// command the package runs: one module to load instead of ~130, and the JSON Schemas tools/list
// shows computed here once instead of at every start (src/mcp/listed-schemas.ts). npm packages
// stay external. Run after tsc (scripts/setup.mjs does).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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
  packages: 'external',
  define: { __RAY_MCP_LISTED__: JSON.stringify(listed) },
  logLevel: 'warning',
});
