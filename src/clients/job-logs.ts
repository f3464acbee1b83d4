/**
 * Parts of a job's driver log, never the whole file. A local cluster's log is read from disk by
 * byte offset (a tail of a 1 GB log reads a few KB from its end); any other cluster's comes from
 * the dashboard's log API, which returns the last N lines.
 *
 * Cursors: `b:<offset>` reads the lines before a byte offset (older), `a:<offset>` what came after
 * it (newer); for the dashboard, `p:<n>` is the n-th page back and `n:<anchor>` what follows the
 * line the anchor hashes.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { JobLogPage } from '../domain/commands.js';
import { RayMcpError } from '../domain/errors.js';
import type { DashboardClient } from './dashboard.client.js';

/** A page of a log; the same shape as a job log page answer. */
export type LogPage = JobLogPage;

export interface LogRequest {
  lines: number;
  maxBytes: number;
  cursor?: string;
}

const CHUNK = 64 * 1024;

export async function readLocalLog(path: string, req: LogRequest): Promise<LogPage> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch {
    throw new RayMcpError(
      'not_found',
      'The job has no driver log yet.',
      'A pending job writes its log once its driver starts; try again shortly.',
    );
  }
  try {
    const { size } = await fh.stat();
    const cursor = parseCursor(req.cursor, 'local');
    // Offsets are bytes of the file: lines are found in raw bytes and only kept bytes are decoded,
    // so a multi-byte character split by a chunk never shifts a cursor.
    if (cursor?.kind === 'a') return await readForward(fh, size, Math.min(cursor.value, size), req);
    return await readBackward(fh, cursor?.kind === 'b' ? Math.min(cursor.value, size) : size, req);
  } finally {
    await fh.close();
  }
}

type Handle = Awaited<ReturnType<typeof open>>;

async function readForward(fh: Handle, size: number, from: number, req: LogRequest): Promise<LogPage> {
  const length = Math.min(size - from, req.maxBytes);
  const buf = Buffer.alloc(length);
  await fh.read(buf, 0, length, from);
  // Whole lines only: an unfinished last line waits for its newline (unless it alone fills the cap).
  let end = 0;
  let lines = 0;
  for (let i = buf.indexOf(10); i >= 0 && lines < req.lines; i = buf.indexOf(10, i + 1)) {
    end = i + 1;
    lines++;
  }
  let truncated = false;
  if (lines === 0 && length === req.maxBytes && length > 0) {
    end = length;
    lines = 1;
    truncated = true;
  }
  const text = buf.subarray(0, end).toString('utf8').replace(/\n$/, '');
  return {
    text,
    lines,
    older: from > 0 ? `b:${from}` : undefined,
    newer: `a:${from + end}`,
    truncated: truncated || (lines < req.lines && from + end < size && end > 0 && length === req.maxBytes),
  };
}

async function readBackward(fh: Handle, end: number, req: LogRequest): Promise<LogPage> {
  let start = end;
  let acc = Buffer.alloc(0);
  // Read back until the bytes hold `lines` line breaks before the last line, or the cap.
  while (start > 0 && end - start < req.maxBytes) {
    const len = Math.min(CHUNK, start, req.maxBytes - (end - start));
    start -= len;
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, start);
    acc = Buffer.concat([buf, acc]);
    if (countNewlines(withoutTrailingNewline(acc)) >= req.lines) break;
  }
  if (acc.length === 0) return { text: '', lines: 0, older: undefined, newer: `a:${end}`, truncated: false };
  const body = withoutTrailingNewline(acc);
  let pos = body.length;
  let count = 0;
  let first = -1;
  while (count < req.lines) {
    const nl = pos > 0 ? body.lastIndexOf(10, pos - 1) : -1;
    if (nl < 0) {
      // The start of the file begins a line; the start of a capped read does not.
      if (start === 0) {
        first = 0;
        count++;
      }
      break;
    }
    count++;
    first = nl + 1;
    pos = nl;
  }
  let truncated = count < req.lines && start > 0;
  if (first < 0) {
    // One line longer than the cap: show its end.
    first = 0;
    count = 1;
    truncated = true;
  }
  const kept = body.subarray(first);
  const offset = start + first;
  return {
    text: kept.toString('utf8'),
    lines: count,
    older: offset > 0 ? `b:${offset}` : undefined,
    newer: `a:${end}`,
    truncated,
  };
}

function withoutTrailingNewline(buf: Buffer): Buffer {
  return buf.length && buf[buf.length - 1] === 10 ? buf.subarray(0, buf.length - 1) : buf;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

const MAX_REMOTE_LINES = 10_000;
const ANCHOR_LINES = 3;
/** A hash of the last few lines up to `end`: a line printed again does not fool it. */
const anchorAt = (lines: string[], end: number) =>
  createHash('sha1')
    .update(lines.slice(Math.max(0, end - ANCHOR_LINES), end).join('\n'))
    .digest('hex')
    .slice(0, 16);

export async function readDashboardLog(
  client: DashboardClient,
  submissionId: string,
  req: LogRequest,
  nodeId?: string,
): Promise<LogPage> {
  const tail = (lines: number) => client.jobLogTail(submissionId, lines, nodeId);
  const cursor = parseCursor(req.cursor, 'remote');
  if (cursor?.kind === 'n') {
    const all = splitLines(await tail(1000));
    let at = -1;
    for (let end = all.length; end > 0; end--) {
      if (anchorAt(all, end) === cursor.anchor) {
        at = end;
        break;
      }
    }
    // Anchor gone (more than 1000 new lines): everything in the window is new.
    const fresh = at >= 0 ? all.slice(at) : all;
    const wanted = fresh.slice(0, req.lines);
    const page = capLinesFromStart(wanted, req.maxBytes);
    const consumed = Math.max(at, 0) + page.length;
    return {
      text: page.join('\n'),
      lines: page.length,
      newer: page.length ? `n:${anchorAt(all, consumed)}` : req.cursor!,
      truncated: page.length < fresh.length && page.length < req.lines,
    };
  }
  // p:<n>: the n newest lines were shown already; this page ends before them.
  const skip = cursor?.kind === 'p' ? cursor.value : 0;
  const want = Math.min(skip + req.lines, MAX_REMOTE_LINES);
  const all = splitLines(await tail(want));
  const window = all.slice(0, Math.max(0, all.length - skip)).slice(-req.lines);
  const page = capLines(window, req.maxBytes);
  const latest = skip === 0 ? all : splitLines(await tail(ANCHOR_LINES));
  return {
    text: page.join('\n'),
    lines: page.length,
    // Older lines exist if this window had some before the page, or Ray may hold more beyond it.
    older:
      (all.length - skip - page.length > 0 || all.length >= want) && skip + page.length < MAX_REMOTE_LINES
        ? `p:${skip + page.length}`
        : undefined,
    newer: `n:${anchorAt(latest, latest.length)}`,
    truncated: page.length < window.length,
  };
}

/** Keeps the oldest lines that fit in `maxBytes`. */
function capLinesFromStart(lines: string[], maxBytes: number): string[] {
  let bytes = 0;
  const out: string[] = [];
  for (const line of lines) {
    bytes += Buffer.byteLength(line) + 1;
    if (bytes > maxBytes && out.length) break;
    out.push(line.slice(0, maxBytes));
  }
  return out;
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Keeps the newest lines that fit in `maxBytes`. */
function capLines(lines: string[], maxBytes: number): string[] {
  let bytes = 0;
  const out: string[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    bytes += Buffer.byteLength(lines[i]!) + 1;
    if (bytes > maxBytes && out.length) break;
    out.unshift(lines[i]!.slice(0, maxBytes));
  }
  return out;
}

type Cursor = { kind: 'a' | 'b' | 'p'; value: number } | { kind: 'n'; anchor: string };

function parseCursor(cursor: string | undefined, source: 'local' | 'remote'): Cursor | undefined {
  if (!cursor) return undefined;
  const m = /^([abpn]):(.*)$/.exec(cursor);
  const ok =
    m &&
    (source === 'local' ? ['a', 'b'].includes(m[1]!) : ['p', 'n'].includes(m[1]!)) &&
    (m[1] === 'n' || /^\d+$/.test(m[2]!));
  if (!m || !ok) {
    throw new RayMcpError(
      'invalid_input',
      `The log cursor ${JSON.stringify(cursor)} is not one this job's logs gave out.`,
      'Use the older or newer cursor from a previous retrieve_logs result, or no cursor for the tail.',
    );
  }
  return m[1] === 'n' ? { kind: 'n', anchor: m[2]! } : { kind: m[1] as 'a' | 'b' | 'p', value: Number(m[2]) };
}
