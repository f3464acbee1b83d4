/**
 * Finds the Ray CLI: the --ray-bin flag (or RAY_MCP_RAY_BIN), else the project's .venv, else PATH.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { RayMcpError } from '../domain/errors.js';
import { findOnPath, isExecutable } from './executables.js';

export const PINNED_RAY_VERSION = '2.60.0';

export interface RayCli {
  path: string;
  source: 'flag' | 'venv' | 'path';
}

export async function resolveRayCli(
  config: Pick<Config, 'rayBin' | 'projectRoot' | 'path'>,
): Promise<RayCli> {
  if (config.rayBin) {
    if (await isExecutable(config.rayBin)) return { path: config.rayBin, source: 'flag' };
    throw new RayMcpError(
      'ray_missing',
      `The Ray CLI given by --ray-bin (or RAY_MCP_RAY_BIN) is not an executable file: ${config.rayBin}`,
      `Point --ray-bin at the 'ray' script of a Python environment with ray[default] installed, or drop the flag to use the project's .venv (npm run setup creates it).`,
    );
  }
  const venvRay = join(config.projectRoot, '.venv', 'bin', 'ray');
  if (await isExecutable(venvRay)) return { path: venvRay, source: 'venv' };
  const onPath = await findOnPath('ray', config.path);
  if (onPath) return { path: onPath, source: 'path' };
  throw new RayMcpError(
    'ray_missing',
    'The Ray CLI was not found (no --ray-bin, no .venv, not on PATH).',
    rayInstallFix(),
  );
}

export function rayInstallFix(): string {
  return `Run 'npm run setup' in the ray-mcp folder (it creates .venv with ray[default]==${PINNED_RAY_VERSION}), or pip install "ray[default]==${PINNED_RAY_VERSION}" and pass --ray-bin /path/to/ray.`;
}

/** `ray, version 2.60.0` → `2.60.0` */
export function parseRayVersion(output: string): string | undefined {
  return /version\s+(\d+\.\d+\.\d+\S*)/.exec(output)?.[1];
}
