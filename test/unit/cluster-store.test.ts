/**
 * The state file: written synchronously (on disk before the answer that follows a change), atomic,
 * and a failed write (unwritable dir, full disk) keeps the old file whole, is reported, and is
 * written once it can be.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterStore } from '../../src/actors/cluster-store.js';
import { listOsProcesses, ProcessTableUnknown } from '../../src/actors/os-processes.js';
import type { ClusterRecord } from '../../src/domain/cluster-record.js';
import { createLogger } from '../../src/logger.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    chmodSync(d, 0o700);
    rmSync(d, { recursive: true, force: true });
  }
});
const log = createLogger({ logLevel: 'silent' });
const rec = (id: string, status: ClusterRecord['status']): ClusterRecord => ({
  id,
  kind: 'external',
  status,
  address: 'http://x',
  createdAt: 1,
});
const onDisk = (store: ClusterStore) =>
  (JSON.parse(readFileSync(store.file, 'utf8')) as { clusters: ClusterRecord[] }).clusters;

describe('cluster store', () => {
  it('is on disk when save returns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    dirs.push(dir);
    const store = new ClusterStore(dir, log);
    expect(store.save([rec('a', 'running')])).toBe(true);
    expect(onDisk(store)).toEqual([rec('a', 'running')]);
  });

  it('keeps the old file whole when a write fails, says why, and writes once it can', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    dirs.push(dir);
    const store = new ClusterStore(dir, log);
    store.save([rec('a', 'running')]);
    // A directory where the temp file goes: the write fails for any user, root included.
    const tmp = `${store.file}.${process.pid}.tmp`;
    mkdirSync(tmp);
    expect(store.save([rec('a', 'running'), rec('b', 'starting')])).toBe(false);
    expect(store.problem).toMatch(/EISDIR|directory/i);
    expect(onDisk(store)).toEqual([rec('a', 'running')]);
    expect(store.retry()).toBe(false);
    rmSync(tmp, { recursive: true });
    expect(store.retry()).toBe(true);
    expect(store.problem).toBeUndefined();
    expect(onDisk(store).map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('reports a data dir that cannot be created', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    dirs.push(dir);
    const store = new ClusterStore(join(dir, 'file', 'sub'), log);
    // A file where the data dir should be: no user, root included, can write under it.
    writeFileSync(join(dir, 'file'), 'x');
    expect(store.save([rec('a', 'running')])).toBe(false);
    expect(store.problem).toMatch(/ENOTDIR|not a directory/i);
  });
});

describe('process table', () => {
  it('a ps that fails is an unknown table, never an empty one', async () => {
    await expect(listOsProcesses({ kind: 'ps', ps: '/bin/false' })).rejects.toBeInstanceOf(
      ProcessTableUnknown,
    );
    await expect(listOsProcesses({ kind: 'ps', ps: '/nonexistent/ps' })).rejects.toThrow(
      /process table could not be read/,
    );
  });

  it('lists this process from /proc and from ps', async () => {
    expect((await listOsProcesses({ kind: 'proc' })).some((p) => p.pid === process.pid)).toBe(true);
    expect((await listOsProcesses({ kind: 'ps', ps: 'ps' })).some((p) => p.pid === process.pid)).toBe(true);
  });
});
