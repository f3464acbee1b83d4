/**
 * Figures for docs/RELIABILITY.md. A reliability test records what it tried, how many times and
 * what held; `npm run reliability` (scripts/reliability.ts) runs the suites and writes the report
 * from these files. Under plain `npm test` the figures go to the scratch dir and are discarded.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Figure = number | string | boolean;

export interface SuiteFigures {
  /** What the suite did, one sentence per check. */
  tried: string[];
  figures: Record<string, Figure>;
  /** What held, or did not. */
  held: string[];
  recordedAt: string;
}

/** True under `npm run reliability` (or RAY_MCP_LONG=1): the long runs (10,000 calls per tool, soak). */
export function longRun(): boolean {
  return process.env.RAY_MCP_LONG === '1';
}

export function figuresDir(): string {
  return process.env.RAY_MCP_FIGURES_DIR ?? join(tmpdir(), 'ray-mcp-figures');
}

/** Merges into `<dir>/<suite>.json`: several test files may feed one suite. */
export function recordFigures(
  suite: string,
  part: { tried?: string[]; figures?: Record<string, Figure>; held?: string[] },
): void {
  const dir = figuresDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}.json`);
  let prev: SuiteFigures = { tried: [], figures: {}, held: [], recordedAt: '' };
  try {
    prev = JSON.parse(readFileSync(file, 'utf8')) as SuiteFigures;
  } catch {}
  const next: SuiteFigures = {
    tried: [...prev.tried, ...(part.tried ?? [])],
    figures: { ...prev.figures, ...(part.figures ?? {}) },
    held: [...prev.held, ...(part.held ?? [])],
    recordedAt: new Date().toISOString(),
  };
  writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`);
}
