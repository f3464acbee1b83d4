/**
 * `ray-mcp setup`: installs the pinned Ray into the cache venv with the setup script the package
 * ships (scripts/setup-ray.sh, the same one `npm run setup` uses in a checkout), then says where the
 * server will find it. Nothing is installed twice: a complete venv in the cache is reused.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { resolveRayCli } from './clients/ray-cli.client.js';
import { loadConfig } from './config.js';
import { projectRoot } from './paths.js';

export async function runSetup(): Promise<number> {
  const script = join(projectRoot, 'scripts', 'setup-ray.sh');
  const code = await new Promise<number>((resolve) => {
    // An installed package has no checkout to link a .venv into: the server looks in the cache.
    const child = spawn('bash', [script], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, RAY_MCP_VENV_LINK: '0' },
    });
    child.on('error', (err) => {
      process.stderr.write(`ray-mcp setup: cannot run bash ${script}: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (status) => resolve(status ?? 1));
  });
  if (code !== 0) return code;
  try {
    const cli = await resolveRayCli(loadConfig({}));
    process.stderr.write(`ray-mcp setup: Ray is ready at ${cli.path}; ray-mcp finds it with no flag.\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`ray-mcp setup: Ray was installed but not found: ${(err as Error).message}\n`);
    return 1;
  }
}
