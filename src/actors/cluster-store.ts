/**
 * The clusters ray-mcp started, on disk, so a restarted server can adopt them. Writes are atomic
 * (a temp file renamed over the old one) and synchronous: a state change is on disk before any
 * answer that follows from it leaves the process, so a SIGKILL right after an answer finds the
 * file true. A torn or unreadable file is set aside, never trusted. A write that fails (unwritable
 * data dir, full disk) leaves the old file whole, is reported (`problem`) and is tried again.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ClusterRecord } from '../domain/cluster-record.js';
import type { SecretSink } from '../domain/redact.js';
import type { Logger } from '../logger.js';

interface StateFile {
  version: 1;
  clusters: ClusterRecord[];
}

export class ClusterStore {
  readonly file: string;
  private last = '';
  /** What stopped the last write, until one succeeds. */
  private failure?: string;

  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
    /** What is written is scrubbed of secrets (a record's error may quote an upstream answer). */
    private readonly secrets?: Pick<SecretSink, 'text'>,
  ) {
    this.file = join(dataDir, 'clusters.json');
  }

  load(): ClusterRecord[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as StateFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.clusters)) throw new Error('unknown format');
      this.last = text;
      return parsed.clusters;
    } catch (err) {
      const aside = `${this.file}.broken-${Date.now()}`;
      this.log.warn({ err, aside }, 'state file unreadable; set aside');
      try {
        mkdirSync(this.dataDir, { recursive: true });
        renameSync(this.file, aside);
      } catch {}
      return [];
    }
  }

  /** Why the state file cannot be written, while it cannot. */
  get problem(): string | undefined {
    return this.failure;
  }

  /**
   * Writes the records if they changed (or the last write failed). Returns false when the write
   * failed; the file on disk is then the last one written, whole.
   */
  save(records: ClusterRecord[]): boolean {
    const json = JSON.stringify({ version: 1, clusters: records } satisfies StateFile, null, 2);
    const text = `${this.secrets ? this.scrub(json) : json}\n`;
    if (text === this.last && !this.failure) return true;
    return this.write(text);
  }

  /** Tries the last content again (after a failure); true once it is on disk. */
  retry(): boolean {
    return this.failure ? this.write(this.last) : true;
  }

  private write(text: string): boolean {
    this.last = text;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(this.dataDir, { recursive: true });
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      if (this.failure) this.log.warn({ file: this.file }, 'state file written again');
      this.failure = undefined;
      return true;
    } catch (err) {
      try {
        rmSync(tmp, { force: true });
      } catch {}
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      if (this.failure !== reason) this.log.error({ err, file: this.file }, 'could not save the state file');
      this.failure = `${(err as Error).message ?? reason}`;
      return false;
    }
  }

  /** Secrets out of the JSON text; a replacement that broke it (never expected) drops the errors' text. */
  private scrub(json: string): string {
    const out = this.secrets!.text(json);
    try {
      JSON.parse(out);
      return out;
    } catch {
      return json.replace(/"(message|fix|note|reason)": "(?:[^"\\]|\\.)*"/g, '"$1": "[redacted]"');
    }
  }

  /** Writes are synchronous: nothing is pending. Kept for callers that flush before exit. */
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
