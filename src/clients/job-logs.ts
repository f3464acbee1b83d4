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
import { RayMcpError } from '../domain/errors.js';
import type { DashboardClient } from './dashboard.client.js';

export interface LogPage {
  text: string;
  lines: number;
  /** Read this to go further back; absent at the start of the log. */
  older?: string;
  /** Read this later for what the job writes next. */
  newer: string;
  /** The page was cut at the byte cap. */
  truncated: boolean;
}

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
    if (cursor?.kind === 'a') {
      const from = Math.min(cursor.value, size);
      const length = Math.min(size - from, req.maxBytes);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, from);
      let text = buf.toString('utf8');
      // Whole lines only, unless one line alone exceeds the cap.
      const lines = text.split('\n');
      const complete = from + length === size ? lines : lines.slice(0, -1);
      let kept = complete.slice(0, req.lines);
      if (kept.length === 0 && lines.length) kept = [lines[0]!];
      text = kept.join('\n');
      const consumed = Buffer.byteLength(text) + (kept.length < lines.length ? 1 : 0);
      return {
        text,
        lines: kept.filter((l, i) => l || i < kept.length - 1).length,
        older: from > 0 ? `b:${from}` : undefined,
        newer: `a:${from + consumed}`,
        truncated: length === req.maxBytes && from + length < size,
      };
    }
    const end = cursor?.kind === 'b' ? Math.min(cursor.value, size) : size;
    // Read backwards until enough lines or the byte cap.
    let start = end;
    let acc = Buffer.alloc(0);
    let newlines = 0;
    const want = req.lines + (end === size ? 1 : 0);
    while (start > 0 && newlines <= want && end - start < req.maxBytes) {
      const len = Math.min(CHUNK, start, req.maxBytes - (end - start));
      start -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, start);
      acc = Buffer.concat([buf, acc]);
      for (const b of buf) if (b === 10) newlines++;
    }
    let text = acc.toString('utf8');
    let offset = start;
    let lines = text.split('\n');
    if (lines.at(-1) === '') lines = lines.slice(0, -1);
    if (lines.length > req.lines) {
      const drop = lines.length - req.lines;
      offset += Buffer.byteLength(`${lines.slice(0, drop).join('\n')}\n`);
      lines = lines.slice(drop);
    } else if (start > 0 && lines.length > 1) {
      // Cut at the byte cap: the first line is partial.
      offset += Buffer.byteLength(`${lines[0]}\n`);
      lines = lines.slice(1);
    }
    text = lines.join('\n');
    return {
      text,
      lines: lines.length,
      older: offset > 0 ? `b:${offset}` : undefined,
      newer: `a:${end}`,
      truncated: end - start >= req.maxBytes,
    };
  } finally {
    await fh.close();
  }
}

const MAX_REMOTE_LINES = 10_000;
const anchorOf = (line: string) => createHash('sha1').update(line).digest('hex').slice(0, 12);

export async function readDashboardLog(
  client: DashboardClient,
  submissionId: string,
  req: LogRequest,
): Promise<LogPage> {
  const cursor = parseCursor(req.cursor, 'remote');
  if (cursor?.kind === 'n') {
    const all = splitLines(await client.jobLogTail(submissionId, 1000));
    const at = all.map(anchorOf).lastIndexOf(cursor.anchor);
    const fresh = at >= 0 ? all.slice(at + 1) : all;
    const page = capLines(fresh.slice(0, req.lines), req.maxBytes);
    return {
      text: page.join('\n'),
      lines: page.length,
      newer: page.length ? `n:${anchorOf(page.at(-1)!)}` : req.cursor!,
      truncated: page.length < fresh.length,
    };
  }
  const pageNo = cursor?.kind === 'p' ? cursor.value : 0;
  const want = Math.min((pageNo + 1) * req.lines, MAX_REMOTE_LINES);
  const all = splitLines(await client.jobLogTail(submissionId, want));
  const page = capLines(
    all.slice(0, Math.max(0, all.length - pageNo * req.lines)).slice(-req.lines),
    req.maxBytes,
  );
  const last = splitLines(pageNo === 0 ? page.join('\n') : await client.jobLogTail(submissionId, 1)).at(-1);
  return {
    text: page.join('\n'),
    lines: page.length,
    older: all.length >= want && want < MAX_REMOTE_LINES ? `p:${pageNo + 1}` : undefined,
    newer: last !== undefined ? `n:${anchorOf(last)}` : 'n:',
    truncated: false,
  };
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
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
