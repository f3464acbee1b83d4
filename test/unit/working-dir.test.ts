import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packWorkingDir } from '../../src/clients/working-dir.js';
import { RayMcpError } from '../../src/domain/errors.js';

// ---------------------------------------------------------------------------------------------
// Folders are built under one temp dir; the zip is read back with a small central-directory
// reader (no unzip library in the project).

let root: string;
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ray-mcp-wd-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function folder(files: Record<string, string>): Promise<string> {
  const dir = join(root, `wd-${++n}`);
  await mkdir(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  return dir;
}

/** Name → content of every entry, from the zip's central directory. */
function unzip(zip: Buffer): Map<string, string> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThanOrEqual(0);
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(p)).toBe(0x02014b50);
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    // The local header: its own name and extra lengths, then the data.
    expect(zip.readUInt32LE(local)).toBe(0x04034b50);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressedSize);
    const content = method === 8 ? inflateRawSync(data) : data;
    out.set(name, content.toString('utf8'));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const URI = /^gcs:\/\/_ray_pkg_[0-9a-f]{16}\.zip$/;

const PROJECT = {
  'main.py': 'import ray\nray.init()\n',
  'lib/util.py': 'def f():\n    return 1\n',
  'lib/__pycache__/util.cpython-311.pyc': 'compiled',
  '__pycache__/main.cpython-311.pyc': 'compiled',
  '.git/HEAD': 'ref: refs/heads/main\n',
  '.git/objects/ab/cdef': 'blob',
  'data/train.csv': 'a,b\n1,2\n',
  'data/raw/big.bin': 'x'.repeat(1000),
  'notes.csv': 'x\n',
  'requirements.txt': 'torch\n',
};

describe('packWorkingDir', () => {
  it('names the package after its content: same content → same uri, a changed file → another', async () => {
    const a = await folder({ 'main.py': 'print(1)\n', 'lib/x.py': 'X = 1\n' });
    const b = await folder({ 'main.py': 'print(1)\n', 'lib/x.py': 'X = 1\n' });
    const pa = await packWorkingDir(a);
    const pb = await packWorkingDir(b);
    expect(pa.uri).toMatch(URI);
    expect(pb.uri).toBe(pa.uri);
    expect(pb.zip.equals(pa.zip)).toBe(true);
    expect(pa.files).toBe(2);

    // Packing again gives the same result.
    expect((await packWorkingDir(a)).uri).toBe(pa.uri);

    await writeFile(join(b, 'lib/x.py'), 'X = 2\n');
    const changed = await packWorkingDir(b);
    expect(changed.uri).toMatch(URI);
    expect(changed.uri).not.toBe(pa.uri);

    // The same bytes under another name are another package too.
    const renamed = await folder({ 'main.py': 'print(1)\n', 'lib/y.py': 'X = 1\n' });
    expect((await packWorkingDir(renamed)).uri).not.toBe(pa.uri);
  });

  it('zips paths relative to the folder, without a top-level folder, with their content', async () => {
    const dir = await folder({ 'main.py': 'print("hi")\n', 'pkg/sub/mod.py': 'Y = 2\n' });
    const pkg = await packWorkingDir(dir);
    const entries = unzip(pkg.zip);
    expect([...entries.keys()].sort()).toEqual(['main.py', 'pkg/sub/mod.py']);
    expect(entries.get('main.py')).toBe('print("hi")\n');
    expect(entries.get('pkg/sub/mod.py')).toBe('Y = 2\n');
    const base = dir.split('/').at(-1)!;
    expect(pkg.zip.includes(Buffer.from(base))).toBe(false);
  });

  it('leaves out __pycache__, .git and the like at any depth', async () => {
    const dir = await folder({
      ...PROJECT,
      '.venv/lib/site.py': 'x',
      'node_modules/a/index.js': 'x',
      'lib/.DS_Store': 'x',
    });
    const pkg = await packWorkingDir(dir);
    const names = [...unzip(pkg.zip).keys()].sort();
    expect(names).toEqual([
      'data/raw/big.bin',
      'data/train.csv',
      'lib/util.py',
      'main.py',
      'notes.csv',
      'requirements.txt',
    ]);
    expect(pkg.files).toBe(names.length);
    expect(pkg.zip.includes(Buffer.from('__pycache__'))).toBe(false);
    expect(pkg.zip.includes(Buffer.from('.git/'))).toBe(false);
  });

  it('honours excludes globs', async () => {
    const dir = await folder(PROJECT);
    const names = async (excludes: string[]) =>
      [...unzip((await packWorkingDir(dir, excludes)).zip).keys()].sort();

    expect(await names(['data/**'])).toEqual(['lib/util.py', 'main.py', 'notes.csv', 'requirements.txt']);
    expect(await names(['data'])).toEqual(['lib/util.py', 'main.py', 'notes.csv', 'requirements.txt']);
    const noCsv = await names(['*.csv']);
    expect(noCsv).not.toContain('notes.csv');
    expect(noCsv).toEqual(
      expect.arrayContaining(['data/raw/big.bin', 'lib/util.py', 'main.py', 'requirements.txt']),
    );
    expect(await names(['data/*.csv', 'lib/util.py'])).toEqual([
      'data/raw/big.bin',
      'main.py',
      'notes.csv',
      'requirements.txt',
    ]);
    expect(await names(['**/*.bin', 'requirements.tx?'])).toEqual([
      'data/train.csv',
      'lib/util.py',
      'main.py',
      'notes.csv',
    ]);
    // Regex metacharacters in a glob are literal.
    expect(await names(['main(py'])).toContain('main.py');
    expect(await names(['main.p[y]'])).toContain('main.py');

    // Excluded files change nothing in the uri.
    const withData = await packWorkingDir(dir, ['data/**']);
    await writeFile(join(dir, 'data/train.csv'), 'changed\n');
    expect((await packWorkingDir(dir, ['data/**'])).uri).toBe(withData.uri);
  });

  // As in .gitignore, a pattern without a slash matches at any depth.
  it('an exclude without a slash matches at any depth, as in .gitignore', async () => {
    const dir = await folder(PROJECT);
    const names = [...unzip((await packWorkingDir(dir, ['*.csv'])).zip).keys()];
    expect(names).not.toContain('data/train.csv');
  });

  it('an empty folder packs to an empty zip', async () => {
    const dir = await folder({});
    const pkg = await packWorkingDir(dir);
    expect(pkg.uri).toMatch(URI);
    expect(pkg.files).toBe(0);
    expect(unzip(pkg.zip).size).toBe(0);
  });

  it('a missing folder, or a file, is invalid_input', async () => {
    for (const path of [join(root, 'does-not-exist'), join(await folder({ 'f.py': '' }), 'f.py')]) {
      const err = await packWorkingDir(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RayMcpError);
      expect((err as RayMcpError).code).toBe('invalid_input');
      expect((err as RayMcpError).message).toContain(path);
    }
  });
});
