/**
 * ray-mcp as a user installs it: the tarball `npm pack` makes, installed into a scratch prefix
 * (`npm install -g --prefix`), on a clean HOME. `ray-mcp setup` finds (or builds) the pinned Ray's
 * venv in the cache, and the installed server then starts and stops a local cluster with no flag.
 *
 * The cache is the user's (RAY_MCP_CACHE_DIR): the venv scripts/setup-ray.sh built is reused, so
 * the test runs the setup code path without installing Ray again.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOk, scratchDir } from '../helpers/mcp.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CACHE =
  process.env.RAY_MCP_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ray-mcp');

describe('the installed package', () => {
  let prefix: string;
  let env: Record<string, string>;
  let bin: string;

  beforeAll(() => {
    const work = scratchDir('pkg');
    // The build is already there (global setup checks it); pack it as npm publish would.
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const [info] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    // The command is one bundle (scripts/bundle.mjs); the module-per-file build stays out.
    expect(files).toContain('dist/ray-mcp.js');
    expect(files.some((f) => f.startsWith('dist/chunks/'))).toBe(true);
    expect(files.some((f) => f.startsWith('dist/src/'))).toBe(false);
    expect(files).toContain('scripts/setup-ray.sh');
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/'))).toBe(false);

    prefix = join(work, 'prefix');
    const home = join(work, 'home');
    mkdirSync(home);
    // PATH without the checkout's .venv; npm's own cache stays the user's (offline when it can).
    const path = (process.env.PATH ?? '')
      .split(':')
      .filter((d) => !d.includes('.venv'))
      .join(':');
    execFileSync(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        join(work, info!.filename),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, PATH: path, npm_config_cache: join(homedir(), '.npm') },
        timeout: 300_000,
      },
    );
    bin = join(prefix, 'bin', 'ray-mcp');
    expect(existsSync(bin)).toBe(true);
    env = {
      PATH: path,
      HOME: home,
      RAY_MCP_CACHE_DIR: CACHE,
      RAY_MCP_DATA_DIR: join(work, 'data'),
      RAY_MCP_TEMP_ROOT: scratchDir('t'),
      RAY_MCP_LOG_LEVEL: 'warn',
    };
  }, 400_000);

  it('ray-mcp setup finds the pinned Ray in the cache venv (installing it only when missing)', () => {
    const res = spawnSync(bin, ['setup'], { env, encoding: 'utf8', timeout: 900_000 });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(
      /Ray is ready at .*\/venvs\/ray-[\d.]+-py[\d.]+\/bin\/ray; ray-mcp finds it with no flag/,
    );
    // Nothing was linked into the installed package.
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'ray-mcp', '.venv'))).toBe(false);
    expect(readdirSync(join(CACHE, 'venvs')).some((n) => n.startsWith('ray-'))).toBe(true);
  });

  describe('serving over stdio', () => {
    let client: Client;
    beforeAll(async () => {
      client = new Client({ name: 'ray-mcp-package-test', version: '1.0.0' });
      await client.connect(new StdioClientTransport({ command: bin, args: [], env, stderr: 'pipe' }));
    });
    afterAll(async () => {
      await client?.close();
    });

    it('finds Ray with no flag and runs a local cluster', async () => {
      const report = await callOk<{ ray: { found: boolean; path: string; source: string } }>(
        client,
        'check_environment',
      );
      expect(report.ray).toMatchObject({ found: true, source: 'venv' });
      expect(report.ray.path.startsWith(join(CACHE, 'venvs'))).toBe(true);
      const started = await callOk<{ cluster_id: string; status: string }>(client, 'init_ray_cluster', {
        cluster_name: 'pkg',
        num_cpus: 1,
      });
      expect(started.status).toBe('running');
      const stopped = await callOk<{ status: string }>(client, 'stop_ray_cluster', { cluster_id: 'pkg' });
      expect(stopped.status).toBe('stopped');
    });
  });

  it('ships the version of the checkout', () => {
    const res = spawnSync(bin, ['--version'], { env, encoding: 'utf8' });
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(res.stdout.trim()).toBe(pkg.version);
  });
});
