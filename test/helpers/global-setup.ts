/**
 * Once per run: check the build is there, give every test one scratch root, and at the end fail
 * the run if any process started under that root (a Ray node, a fake CLI) outlived the suite.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopTestbed } from '../../scripts/testbed.js';
import { listProcesses } from './processes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testRoot: string;
  }
}

export default function setup(project: TestProject) {
  assertBundleFresh();
  // Short: Ray's socket paths under it must fit in 107 bytes.
  const root = mkdtempSync(join(tmpdir(), 'rmt-'));
  project.provide('testRoot', root);
  return async () => {
    await stopTestbed(join(root, 'testbed'));
    const leaked = listProcesses().filter((p) => p.cmdline.includes(root));
    rmSync(root, { recursive: true, force: true });
    if (leaked.length) {
      for (const p of leaked) process.kill(p.pid, 'SIGKILL');
      throw new Error(
        `${leaked.length} process(es) started by the tests outlived the suite:\n${leaked
          .map((p) => `  ${p.pid} ${p.cmdline.slice(0, 200)}`)
          .join('\n')}`,
      );
    }
  };
}

/** The tests run the command users run, dist/ray-mcp.js: it must exist and be built from the current dist/src. */
function assertBundleFresh(): void {
  const dist = join(import.meta.dirname, '..', '..', 'dist');
  const bundle = join(dist, 'ray-mcp.js');
  if (!existsSync(bundle)) {
    throw new Error('dist/ray-mcp.js is missing: run the tests with `npm test` (it builds first).');
  }
  const built = statSync(bundle).mtimeMs;
  const newer = readdirSync(join(dist, 'src'), { recursive: true, encoding: 'utf8' }).find(
    (f) => f.endsWith('.js') && statSync(join(dist, 'src', f)).mtimeMs > built,
  );
  if (newer) {
    throw new Error(
      `dist/ray-mcp.js is older than dist/src/${newer}: run \`npm run build\` (or \`npm test\`).`,
    );
  }
}
