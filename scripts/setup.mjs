#!/usr/bin/env node
// Installs what ray-mcp needs to run and test, and nothing twice: npm packages
// (only when package-lock.json changed), the TypeScript build (incremental) and
// the Ray venv (scripts/setup-ray.sh) and, with --testbed (the tests), the
// Kubernetes test bed (scripts/setup-testbed.sh), the AWS emulator (scripts/setup-moto.sh) and the Python
// MCP client the HTTP tests drive (scripts/setup-mcp-python.sh). Uses no npm package itself,
// since it runs before they are installed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => process.stderr.write(`setup: ${msg}\n`);

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    log(`${cmd} ${args.join(' ')} failed with exit code ${res.status}`);
    process.exit(res.status ?? 1);
  }
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  log(`Node ${process.versions.node} is too old: ray-mcp needs Node 20.18 or newer.`);
  process.exit(1);
}

const lock = readFileSync(join(root, 'package-lock.json'));
const lockHash = createHash('sha256').update(lock).digest('hex');
const stamp = join(root, 'node_modules', '.ray-mcp-lock-hash');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  log('installing npm packages (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(stamp, lockHash);
}

log('building (tsc, then the bundle the command runs)');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
run(process.execPath, [join(root, 'scripts', 'bundle.mjs')]);

if (!process.argv.includes('--no-ray')) {
  run('bash', [join(root, 'scripts', 'setup-ray.sh')]);
}

if (process.argv.includes('--testbed')) {
  run('bash', [join(root, 'scripts', 'setup-testbed.sh')]);
  run('bash', [join(root, 'scripts', 'setup-moto.sh')]);
  run('bash', [join(root, 'scripts', 'setup-mcp-python.sh')]);
}
