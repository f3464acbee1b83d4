/**
 * The audit log file, `<data dir>/audit.jsonl`: one JSON line per entry, mode 0600, rotated at a
 * size limit (audit.jsonl → audit.jsonl.1 → … → audit.jsonl.<keep>, the oldest dropped). Writes
 * go through one promise chain, so they land in the order recorded without blocking the caller; a
 * failed write drops its line and is reported once through `onError`, never to the tool call.
 */
import { appendFile, chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEntry, AuditSink } from '../domain/audit.js';

export const AUDIT_FILE = 'audit.jsonl';

export interface AuditLogOptions {
  path: string;
  /** Rotate before a write would take the file past this (default 5 MiB). */
  maxBytes?: number;
  /** Rotated files kept besides the current one (default 3). */
  keep?: number;
  /** Lines waiting to be written beyond which new ones are dropped (default 1000). */
  maxPending?: number;
  /** Told about the first failed or dropped write only. */
  onError?: (err: unknown) => void;
  /** The app's redactor: known secrets never reach the file, whatever key they hide under. */
  redact?: (line: string) => string;
}

export class AuditLog implements AuditSink {
  private readonly path: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly maxPending: number;
  private readonly onError: (err: unknown) => void;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Bytes in the current file; read from disk before the first write. */
  private size: number | undefined;
  private reported = false;
  private readonly redact: (line: string) => string;

  constructor(options: AuditLogOptions) {
    this.path = options.path;
    this.maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    this.keep = Math.max(1, options.keep ?? 3);
    this.maxPending = options.maxPending ?? 1000;
    this.onError = options.onError ?? (() => {});
    this.redact = options.redact ?? ((line) => line);
  }

  record(entry: AuditEntry): void {
    if (this.pending >= this.maxPending) {
      this.fail(new Error(`audit log: ${this.pending} lines waiting; dropping new ones`));
      return;
    }
    let line: string;
    try {
      line = `${this.redact(JSON.stringify(entry))}\n`;
    } catch (err) {
      this.fail(err);
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(() => this.write(line))
      .catch((err) => this.fail(err))
      .finally(() => {
        this.pending--;
      });
  }

  /** Resolves when every line recorded so far is written (or dropped). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(line: string): Promise<void> {
    const bytes = Buffer.byteLength(line);
    if (this.size === undefined) {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      this.size = await stat(this.path).then(
        (s) => s.size,
        () => 0,
      );
      // A file left by an older run keeps its content but not a wider mode.
      if (this.size > 0) await chmod(this.path, 0o600);
    }
    if (this.size > 0 && this.size + bytes > this.maxBytes) await this.rotate();
    await appendFile(this.path, line, { mode: 0o600 });
    this.size += bytes;
  }

  private async rotate(): Promise<void> {
    await rm(`${this.path}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--)
      await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(ignoreMissing);
    await rename(this.path, `${this.path}.1`);
    this.size = 0;
  }

  private fail(err: unknown): void {
    if (this.reported) return;
    this.reported = true;
    this.onError(err);
  }
}

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err;
};
