import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardClient } from '../../src/clients/dashboard.client.js';
import { type LogPage, readDashboardLog, readLocalLog } from '../../src/clients/job-logs.js';
import { RayMcpError } from '../../src/domain/errors.js';

// ---------------------------------------------------------------------------------------------
// Scratch files: one temp dir for the whole file, removed at the end.

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ray-mcp-logs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(content: string | Buffer): Promise<string> {
  const path = join(dir, `log-${++n}.txt`);
  await writeFile(path, content);
  return path;
}

const BIG = 10 * 1024 * 1024;
const offsetOf = (cursor: string | undefined, kind: 'a' | 'b') => {
  expect(cursor).toMatch(new RegExp(`^${kind}:\\d+$`));
  return Number(cursor!.slice(2));
};
const linesOf = (page: LogPage) => (page.text === '' ? [] : page.text.split('\n'));

async function rejectsWith(p: Promise<unknown>, code: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RayMcpError);
  expect((err as RayMcpError).code).toBe(code);
  expect((err as RayMcpError).fix.length).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------

describe('readLocalLog on a 100k-line file', () => {
  // Lines of varied length so chunk boundaries fall anywhere in a line.
  const TOTAL = 100_000;
  const LINES = Array.from(
    { length: TOTAL },
    (_, i) =>
      `${String(i).padStart(6, '0')} step=${i} loss=${(1 / (i + 1)).toFixed(i % 7)}${'.'.repeat(i % 13)}`,
  );
  const CONTENT = `${LINES.join('\n')}\n`;
  let path: string;
  beforeAll(async () => {
    path = await file(CONTENT);
  });

  it('returns exactly the last N lines, and `older` points at the start of the first one', async () => {
    for (const want of [1, 10, 2_500, 7_000]) {
      const page = await readLocalLog(path, { lines: want, maxBytes: BIG });
      expect(linesOf(page)).toEqual(LINES.slice(-want));
      expect(page.lines).toBe(want);
      expect(page.truncated).toBe(false);
      const offset = offsetOf(page.older, 'b');
      // The bytes before the offset are exactly the lines before the page.
      expect(CONTENT.slice(0, offset)).toBe(`${LINES.slice(0, TOTAL - want).join('\n')}\n`);
      expect(CONTENT.slice(offset).startsWith(`${page.text}\n`)).toBe(true);
      expect(page.newer).toBe(`a:${Buffer.byteLength(CONTENT)}`);
    }
  });

  it('pages back with `older` to the start, and the pages make up the whole file', async () => {
    const N = 7_000;
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page: LogPage = await readLocalLog(path, { lines: N, maxBytes: BIG, cursor });
      pages.unshift(linesOf(page));
      const end = TOTAL - N * (pages.length - 1);
      expect(linesOf(page)).toEqual(LINES.slice(Math.max(0, end - N), end));
      if (!page.older) break;
      expect(offsetOf(page.older, 'b')).toBeLessThan(cursor ? offsetOf(cursor, 'b') : Infinity);
      cursor = page.older;
      expect(pages.length).toBeLessThan(100);
    }
    expect(pages).toHaveLength(Math.ceil(TOTAL / N));
    expect(pages[0]).toHaveLength(TOTAL % N);
    expect(`${pages.flat().join('\n')}\n`).toBe(CONTENT);
  });

  it('a byte cap smaller than the page cuts it: whole lines only, within the cap, truncated', async () => {
    for (const maxBytes of [100, 1_000, 70_000, 200_000]) {
      const page = await readLocalLog(path, { lines: 20_000, maxBytes });
      expect(page.truncated).toBe(true);
      expect(Buffer.byteLength(page.text)).toBeLessThanOrEqual(maxBytes);
      const got = linesOf(page);
      expect(got.length).toBeGreaterThan(0);
      expect(got.length).toBeLessThan(20_000);
      // The newest lines, each whole.
      expect(got).toEqual(LINES.slice(-got.length));
      expect(CONTENT.slice(0, offsetOf(page.older, 'b'))).toBe(
        `${LINES.slice(0, TOTAL - got.length).join('\n')}\n`,
      );
    }
  });

  it('a byte cap also cuts older pages at whole lines', async () => {
    const first = await readLocalLog(path, { lines: 50, maxBytes: BIG });
    const page = await readLocalLog(path, { lines: 5_000, maxBytes: 3_000, cursor: first.older });
    const got = linesOf(page);
    expect(page.truncated).toBe(true);
    expect(Buffer.byteLength(page.text)).toBeLessThanOrEqual(3_000);
    expect(got).toEqual(LINES.slice(TOTAL - 50 - got.length, TOTAL - 50));
  });
});

describe('readLocalLog: following with `newer`', () => {
  it('returns nothing until lines are appended, then exactly those lines', async () => {
    const before = ['one', 'two', 'three'];
    const path = await file(`${before.join('\n')}\n`);
    const tail = await readLocalLog(path, { lines: 10, maxBytes: BIG });
    expect(linesOf(tail)).toEqual(before);
    expect(tail.older).toBeUndefined();

    const nothing = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: tail.newer });
    expect(nothing.text).toBe('');
    expect(nothing.lines).toBe(0);
    expect(nothing.newer).toBe(tail.newer);

    await appendFile(path, 'four\nfive\n');
    const fresh = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: nothing.newer });
    expect(fresh.lines).toBe(2);
    // The page may keep the final newline; its lines are exactly the appended ones.
    expect(fresh.text.replace(/\n$/, '').split('\n')).toEqual(['four', 'five']);
    expect(fresh.older).toBe(tail.newer.replace('a:', 'b:'));

    const again = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: fresh.newer });
    expect(again.lines).toBe(0);
    expect(again.text).toBe('');

    // Fewer lines than were appended: the next newer cursor starts at the first line left out.
    await appendFile(path, 'six\nseven\neight\n');
    const part = await readLocalLog(path, { lines: 2, maxBytes: BIG, cursor: again.newer });
    expect(part.text).toBe('six\nseven');
    const rest = await readLocalLog(path, { lines: 2, maxBytes: BIG, cursor: part.newer });
    expect(rest.text.replace(/\n$/, '')).toBe('eight');
    expect(rest.newer).toBe(`a:${Buffer.byteLength('one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n')}`);
  });

  it('with a byte cap, reads whole lines and continues where it stopped', async () => {
    const path = await file('start\n');
    const tail = await readLocalLog(path, { lines: 10, maxBytes: BIG });
    const appended = Array.from({ length: 40 }, (_, i) => `appended line ${i}`);
    await appendFile(path, `${appended.join('\n')}\n`);
    const got: string[] = [];
    let cursor = tail.newer;
    for (let i = 0; i < 100; i++) {
      const page = await readLocalLog(path, { lines: 1_000, maxBytes: 100, cursor });
      expect(Buffer.byteLength(page.text)).toBeLessThanOrEqual(100);
      const lines = page.text.replace(/\n$/, '');
      if (lines === '') break;
      got.push(...lines.split('\n'));
      cursor = page.newer;
    }
    expect(got).toEqual(appended);
  });

  // A line the job is still writing is held back until its newline arrives.
  it('does not split a line that was half written when it was read', async () => {
    const path = await file('begin\n');
    const tail = await readLocalLog(path, { lines: 10, maxBytes: BIG });
    await appendFile(path, 'epoch 1: loss=0.');
    const first = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: tail.newer });
    await appendFile(path, '25\n');
    const second = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: first.newer });
    const seen = `${first.text}${first.text && second.text ? '\n' : ''}${second.text}`.replace(/\n$/, '');
    expect(seen.split('\n')).toEqual(['epoch 1: loss=0.25']);
  });
});

describe('readLocalLog: edge cases', () => {
  it('reads a file without a trailing newline', async () => {
    const path = await file('a\nbb\nccc');
    const page = await readLocalLog(path, { lines: 2, maxBytes: BIG });
    expect(page.text).toBe('bb\nccc');
    expect(page.lines).toBe(2);
    expect(page.older).toBe('b:2');
    expect(page.newer).toBe('a:8');
    const older = await readLocalLog(path, { lines: 2, maxBytes: BIG, cursor: page.older });
    expect(older.text).toBe('a');
    expect(older.older).toBeUndefined();
    const all = await readLocalLog(path, { lines: 10, maxBytes: BIG });
    expect(all.text).toBe('a\nbb\nccc');
    expect(all.older).toBeUndefined();
  });

  it('reads an empty file', async () => {
    const path = await file('');
    const page = await readLocalLog(path, { lines: 10, maxBytes: BIG });
    expect(page).toEqual({ text: '', lines: 0, older: undefined, newer: 'a:0', truncated: false });
    const newer = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: page.newer });
    expect(newer.lines).toBe(0);
    expect(newer.text).toBe('');
  });

  it('a missing file is not_found', async () => {
    await rejectsWith(readLocalLog(join(dir, 'no-such.log'), { lines: 10, maxBytes: BIG }), 'not_found');
  });

  it('a cursor it did not give out is invalid_input', async () => {
    const path = await file('x\n');
    for (const cursor of ['x', 'p:1', 'n:abc', 'b:', 'a:-1', 'b:1.5', 'b:12x', ' a:0']) {
      await rejectsWith(readLocalLog(path, { lines: 10, maxBytes: BIG, cursor }), 'invalid_input');
    }
  });

  it('a cursor beyond the end of the file is clamped', async () => {
    const path = await file('a\nb\n');
    expect((await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: 'b:999' })).text).toBe('a\nb');
    const after = await readLocalLog(path, { lines: 10, maxBytes: BIG, cursor: 'a:999' });
    expect(after.lines).toBe(0);
    expect(after.newer).toBe('a:4');
  });

  // Offsets are found on raw bytes, so a chunk that starts inside a multi-byte character does
  // not shift them.
  it('keeps `older` on a line boundary when a chunk starts inside a multi-byte character', async () => {
    // 31-byte lines of ten 3-byte characters: size - 64 KiB falls on the 3rd byte of a character.
    const lines = Array.from({ length: 10_000 }, () => '█'.repeat(10));
    const content = `${lines.join('\n')}\n`;
    const path = await file(content);
    const page = await readLocalLog(path, { lines: 2_000, maxBytes: BIG });
    expect(linesOf(page)).toEqual(lines.slice(-2_000));
    expect(page.older).toBe(`b:${Buffer.byteLength(content) - 2_000 * 31}`);
  });

  it('tail returns the last min(N, length) lines (property)', async () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replaceAll('\n', ''));
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 60 }),
        fc.integer({ min: 1, max: 80 }),
        async (lines, want) => {
          const content = lines.map((l) => `${l}\n`).join('');
          const path = await file(content);
          const page = await readLocalLog(path, { lines: want, maxBytes: BIG });
          const expected = lines.slice(-want);
          expect(page.lines).toBe(expected.length);
          expect(page.text).toBe(expected.join('\n'));
          const offset = page.older ? offsetOf(page.older, 'b') : 0;
          expect(offset).toBe(
            Buffer.byteLength(lines.slice(0, lines.length - expected.length).join('\n')) +
              (lines.length > expected.length ? 1 : 0),
          );
          expect(page.newer).toBe(`a:${Buffer.byteLength(content)}`);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The dashboard's log API, in memory: the last `lines` lines, newline-terminated.

function fakeDashboard(lines: string[]) {
  const calls: { id: string; lines: number }[] = [];
  const client = {
    async jobLogTail(submissionId: string, want: number): Promise<string> {
      calls.push({ id: submissionId, lines: want });
      const tail = lines.slice(-want);
      return tail.length ? `${tail.join('\n')}\n` : '';
    },
  } as unknown as DashboardClient;
  return { client, calls };
}

describe('readDashboardLog', () => {
  const LOG = Array.from({ length: 95 }, (_, i) => `remote line ${i}`);

  it('returns the tail with cursors to go back (p:<lines shown>) and forward (n:<anchor>)', async () => {
    const { client, calls } = fakeDashboard(LOG);
    const page = await readDashboardLog(client, 'raysubmit_1', { lines: 10, maxBytes: BIG });
    expect(linesOf(page)).toEqual(LOG.slice(-10));
    expect(page.lines).toBe(10);
    expect(page.older).toBe('p:10');
    expect(page.newer).toMatch(/^n:[0-9a-f]{16}$/);
    expect(page.truncated).toBe(false);
    expect(calls).toEqual([{ id: 'raysubmit_1', lines: 10 }]);
  });

  it('pages back with p: cursors to the start, and the pages make up the log', async () => {
    const { client } = fakeDashboard(LOG);
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page: LogPage = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG, cursor });
      pages.unshift(linesOf(page));
      expect(page.newer).toMatch(/^n:[0-9a-f]{16}$/);
      if (!page.older) break;
      expect(page.older).toBe(`p:${(i + 1) * 10}`);
      cursor = page.older;
    }
    expect(pages).toHaveLength(10);
    expect(pages[0]).toEqual(LOG.slice(0, 5));
    expect(pages.flat()).toEqual(LOG);
  });

  it('n: returns only the lines appended after the anchor, then nothing', async () => {
    const lines = [...LOG];
    const { client } = fakeDashboard(lines);
    const tail = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG });

    const none = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG, cursor: tail.newer });
    expect(none.lines).toBe(0);
    expect(none.text).toBe('');
    expect(none.newer).toBe(tail.newer);
    expect(none.older).toBeUndefined();

    lines.push('new 1', 'new 2', 'new 3');
    const fresh = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG, cursor: none.newer });
    expect(linesOf(fresh)).toEqual(['new 1', 'new 2', 'new 3']);
    expect(fresh.newer).not.toBe(none.newer);
    expect(fresh.truncated).toBe(false);

    // More new lines than the page holds: the oldest first, and the rest on the next read.
    lines.push('new 4', 'new 5', 'new 6');
    const some = await readDashboardLog(client, 'j', { lines: 2, maxBytes: BIG, cursor: fresh.newer });
    expect(linesOf(some)).toEqual(['new 4', 'new 5']);
    // Cut by the line count, not the byte cap.
    expect(some.truncated).toBe(false);
    const rest = await readDashboardLog(client, 'j', { lines: 2, maxBytes: BIG, cursor: some.newer });
    expect(linesOf(rest)).toEqual(['new 6']);
  });

  it('an empty log: nothing, and n: then returns what comes', async () => {
    const lines: string[] = [];
    const { client } = fakeDashboard(lines);
    const page = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG });
    expect(page.lines).toBe(0);
    expect(page.text).toBe('');
    expect(page.older).toBeUndefined();
    expect(page.newer).toMatch(/^n:/);
    lines.push('hello');
    const fresh = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG, cursor: page.newer });
    expect(linesOf(fresh)).toEqual(['hello']);
  });

  it('keeps the newest lines within the byte cap', async () => {
    const { client } = fakeDashboard(LOG);
    const page = await readDashboardLog(client, 'j', { lines: 10, maxBytes: 50 });
    expect(Buffer.byteLength(page.text)).toBeLessThanOrEqual(50);
    expect(linesOf(page)).toEqual(LOG.slice(-linesOf(page).length));
    expect(page.lines).toBeGreaterThan(0);
  });

  it('rejects local cursors and junk with invalid_input', async () => {
    const { client } = fakeDashboard(LOG);
    for (const cursor of ['a:0', 'b:10', 'x', 'p:', 'p:-1']) {
      await rejectsWith(readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG, cursor }), 'invalid_input');
    }
  });

  // The anchor hashes the last few lines together, so a line the job prints again does not make
  // the reader skip what came between.
  it('n: does not skip lines when the anchor line is printed again', async () => {
    const lines = ['start', 'tick'];
    const { client } = fakeDashboard(lines);
    const tail = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG });
    lines.push('work', 'tick');
    const fresh = await readDashboardLog(client, 'j', { lines: 10, maxBytes: BIG, cursor: tail.newer });
    expect(linesOf(fresh)).toEqual(['work', 'tick']);
  });

  // A page cut by the byte cap says so, and its older cursor starts right before its first line.
  it('a page cut by the byte cap says truncated, and paging back loses no line', async () => {
    const { client } = fakeDashboard(LOG);
    const first = await readDashboardLog(client, 'j', { lines: 10, maxBytes: 50 });
    expect(first.truncated).toBe(true);
    const seen = [...linesOf(first)];
    let cursor = first.older;
    while (cursor) {
      const page = await readDashboardLog(client, 'j', { lines: 10, maxBytes: 50, cursor });
      seen.unshift(...linesOf(page));
      cursor = page.older;
    }
    expect(seen).toEqual(LOG);
  });
});
