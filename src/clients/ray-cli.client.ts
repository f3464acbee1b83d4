/**
 * Finds the Ray CLI: the --ray-bin flag (or RAY_MCP_RAY_BIN), else the project's .venv, else the
 * pinned Ray's venv in the cache (`ray-mcp setup` / `npm run setup` build it), else PATH.
 */
import { access, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../config.js';
import { RayMcpError } from '../domain/errors.js';
import { findOnPath, isExecutable } from './executables.js';

export const PINNED_RAY_VERSION = '2.60.0';

export interface RayCli {
  path: string;
  source: 'flag' | 'venv' | 'path';
}

export async function resolveRayCli(
  config: Pick<Config, 'rayBin' | 'projectRoot' | 'path' | 'cacheDir'>,
): Promise<RayCli> {
  if (config.rayBin) {
    if (await isExecutable(config.rayBin)) return { path: config.rayBin, source: 'flag' };
    throw new RayMcpError(
      'ray_missing',
      `The Ray CLI given by --ray-bin (or RAY_MCP_RAY_BIN) is not an executable file: ${config.rayBin}`,
      `Point --ray-bin at the 'ray' script of a Python environment with ray[default] installed, or drop the flag to use the venv that 'ray-mcp setup' (in a checkout: npm run setup) creates.`,
    );
  }
  const venvRay = join(config.projectRoot, '.venv', 'bin', 'ray');
  if (await isExecutable(venvRay)) return { path: venvRay, source: 'venv' };
  const cached = await cachedVenvRay(config.cacheDir);
  if (cached) return { path: cached, source: 'venv' };
  const onPath = await findOnPath('ray', config.path);
  if (onPath) return { path: onPath, source: 'path' };
  throw new RayMcpError(
    'ray_missing',
    'The Ray CLI was not found (no --ray-bin, no .venv, no venv in the cache, not on PATH).',
    rayInstallFix(),
  );
}

export function rayInstallFix(): string {
  return `Run 'ray-mcp setup' (or 'npx ray-mcp setup'; in a checkout, 'npm run setup'): it installs ray[default]==${PINNED_RAY_VERSION} into a venv in ~/.cache/ray-mcp that ray-mcp finds by itself. Or pip install "ray[default]==${PINNED_RAY_VERSION}" and pass --ray-bin /path/to/ray.`;
}

/** `<cache>/venvs/ray-<pinned>-py<X.Y>/bin/ray` of a finished install (setup-ray.sh marks it `.complete`). */
async function cachedVenvRay(cacheDir: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(join(cacheDir, 'venvs'));
  } catch {
    return undefined;
  }
  const prefix = `ray-${PINNED_RAY_VERSION}-py`;
  for (const name of names
    .filter((n) => n.startsWith(prefix))
    .sort()
    .reverse()) {
    const venv = join(cacheDir, 'venvs', name);
    const ray = join(venv, 'bin', 'ray');
    const complete = await access(join(venv, '.complete')).then(
      () => true,
      () => false,
    );
    if (complete && (await isExecutable(ray))) return ray;
  }
  return undefined;
}

/** `ray, version 2.60.0` → `2.60.0` */
export function parseRayVersion(output: string): string | undefined {
  return /version\s+(\d+\.\d+\.\d+\S*)/.exec(output)?.[1];
}

/**
 * The Ray version installed next to a venv's CLI, read from its package metadata
 * (`<venv>/lib/python3.X/site-packages/ray-<version>.dist-info`): no Python start, so a busy
 * machine cannot time it out. Undefined when the CLI is not in such a venv.
 */
export async function rayVersionNextTo(cliPath: string): Promise<string | undefined> {
  const lib = join(dirname(dirname(cliPath)), 'lib');
  try {
    for (const py of await readdir(lib)) {
      if (!py.startsWith('python')) continue;
      const entries = await readdir(join(lib, py, 'site-packages')).catch(() => [] as string[]);
      for (const e of entries) {
        const m = /^ray-(\d+\.\d+\.\d+[^-]*)\.dist-info$/.exec(e);
        if (m) return m[1];
      }
    }
  } catch {}
  return undefined;
}
