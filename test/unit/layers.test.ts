/**
 * The layer table of docs/ARCHITECTURE.md, checked against the imports of every file in src:
 * machines stay pure, actors never import the MCP layer, and tool handlers reach the actor
 * system only through its port.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

/** Folder (or top-level file) → what its files may import, besides their own folder and npm packages. */
const MAY_IMPORT: Record<string, string[]> = {
  domain: [],
  clients: ['domain', 'config.ts'],
  watchers: ['clients', 'domain'],
  machines: ['domain'],
  actors: ['machines', 'clients', 'watchers', 'domain', 'config.ts', 'logger.ts'],
  mcp: ['domain', 'actors/port.ts', 'config.ts', 'logger.ts', 'version.ts'],
};
/** Machines do no I/O: these packages stay out of them. */
const IO_PACKAGES = [
  'node:fs',
  'node:child_process',
  'node:net',
  'node:http',
  'undici',
  'execa',
  '@kubernetes/client-node',
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** `src/actors/port.ts` → 'actors/port.ts'; the layer is its first segment. */
const inSrc = (path: string) => relative(SRC, path).replaceAll('\\', '/');

describe('layers', () => {
  const all = files(SRC);

  it('every file imports only what its layer may', () => {
    const violations: string[] = [];
    for (const file of all) {
      const from = inSrc(file);
      const layer = from.split('/')[0]!;
      const allowed = MAY_IMPORT[layer];
      if (!allowed) continue; // main.ts, app.ts, config.ts...: the wiring may import anything
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) {
          if (layer === 'machines' && IO_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`)))
            violations.push(`${from} imports ${spec} (machines do no I/O)`);
          continue;
        }
        const target = inSrc(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        const targetLayer = target.split('/')[0]!;
        if (targetLayer === layer) continue;
        if (!allowed.some((a) => target === a || targetLayer === a))
          violations.push(`${from} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('no module-level mutable Map or Set outside the actors that own them', () => {
    const found: string[] = [];
    for (const file of all) {
      const lines = readFileSync(file, 'utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        if (/^(?:export\s+)?(?:const|let)\s+\w+\s*(?::[^=]+)?=\s*new\s+(?:Map|Set)\b/.test(line))
          found.push(`${inSrc(file)}:${i + 1}: ${line.trim()}`);
      }
    }
    // A constant lookup table is fine as a ReadonlySet; mutable state is not.
    expect(found.filter((f) => !/ReadonlySet|ReadonlyMap/.test(f))).toEqual([]);
  });
});
