/**
 * A local working_dir as Ray wants it: a zip with paths relative to the folder (no top-level
 * folder), named gcs://_ray_pkg_<hash>.zip after its content so nodes that cached it reuse it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { ordinaryError, RayMcpError } from '../domain/errors.js';

/** Ray's HTTP body limit for a package upload. */
export const MAX_PACKAGE_BYTES = 100 * 1024 * 1024;
const ALWAYS_EXCLUDED = ['.git', '.venv', 'venv', '__pycache__', '.ray-mcp', 'node_modules', '.DS_Store'];

export interface Package {
  uri: string;
  zip: Buffer;
  files: number;
}

/** A .gitignore-style pattern: without a slash it matches at any depth; with one, from the top. */
function globToRegExp(glob: string): RegExp {
  const trimmed = glob.replace(/\/+$/, '');
  const anchored = trimmed.includes('/');
  const re = trimmed
    .replace(/^\//, '')
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*/g, '\u0001')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]')
    .replaceAll('\u0001', '.*');
  return new RegExp(anchored ? `^${re}(/.*)?$` : `^(?:.*/)?${re}(/.*)?$`);
}

export async function packWorkingDir(dir: string, excludes: string[] = []): Promise<Package> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new RayMcpError(
      'invalid_input',
      `working_dir ${dir} is not a folder on the machine running ray-mcp.`,
      'Give the absolute path of an existing folder, or a remote URI (gcs://, s3://, https://...zip).',
    );
  }
  if (/^\/(?:proc|sys|dev)(?:\/|$)/.test(resolve(dir))) {
    throw new RayMcpError(
      'invalid_input',
      `working_dir ${dir} is a system folder (/proc, /sys, /dev), not a project folder.`,
      'Give the folder that holds the job code.',
    );
  }
  try {
    return await pack(dir, excludes);
  } catch (err) {
    if (err instanceof RayMcpError) throw err;
    const info = ordinaryError(err);
    if (!info) throw err;
    throw new RayMcpError(
      'invalid_input',
      `Cannot pack working_dir ${dir}: ${info.message}`,
      info.code === 'forbidden'
        ? 'Give a folder ray-mcp can read entirely, or leave the unreadable part out with runtime_env.excludes.'
        : info.code === 'not_found'
          ? 'A file went away while the folder was read: retry, or leave that part out with runtime_env.excludes.'
          : info.fix,
      { cause: err },
    );
  }
}

async function pack(dir: string, excludes: string[]): Promise<Package> {
  const patterns = excludes.map(globToRegExp);
  const files: { rel: string; abs: string }[] = [];
  let total = 0;
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (ALWAYS_EXCLUDED.includes(entry.name)) continue;
      const abs = join(current, entry.name);
      const rel = relative(dir, abs).split(sep).join('/');
      if (patterns.some((p) => p.test(rel))) continue;
      if (entry.isDirectory()) await walk(abs);
      else if (entry.isFile()) {
        total += (await stat(abs)).size;
        if (total > MAX_PACKAGE_BYTES) {
          throw new RayMcpError(
            'invalid_input',
            `working_dir ${dir} holds more than 100 MiB, Ray's upload limit.`,
            'Leave out data and build outputs with runtime_env.excludes, or upload them elsewhere and pass a remote URI.',
          );
        }
        files.push({ rel, abs });
      }
    }
  };
  await walk(dir);
  files.sort((a, b) => (a.rel < b.rel ? -1 : 1));
  const { ZipFile } = await import('yazl');
  const zip = new ZipFile();
  const hash = createHash('sha1');
  for (const f of files) {
    const data = await readFile(f.abs);
    hash.update(f.rel).update('\0').update(data).update('\0');
    // A fixed mtime keeps the zip bytes a function of the content alone.
    zip.addBuffer(data, f.rel, { mtime: new Date(0), mode: 0o100644 });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes.length > MAX_PACKAGE_BYTES) {
    throw new RayMcpError(
      'invalid_input',
      `working_dir ${dir} zips to ${Math.round(bytes.length / 1048576)} MiB, over Ray's 100 MiB upload limit.`,
      'Leave out data and build outputs with runtime_env.excludes.',
    );
  }
  return { uri: `gcs://_ray_pkg_${hash.digest('hex').slice(0, 16)}.zip`, zip: bytes, files: files.length };
}
