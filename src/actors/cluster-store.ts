/**
 * The clusters ray-mcp started, on disk, so a restarted server can adopt them. Writes are atomic
 * (a temp file renamed over the old one) and serialized; a torn or unreadable file is set aside,
 * never trusted.
 */
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
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
  private chain: Promise<void> = Promise.resolve();
  private last = '';

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

  /** Writes the records if they changed; resolves once on disk. */
  save(records: ClusterRecord[]): Promise<void> {
    const json = JSON.stringify({ version: 1, clusters: records } satisfies StateFile, null, 2);
    const text = `${this.secrets ? this.scrub(json) : json}\n`;
    if (text === this.last) return this.chain;
    this.last = text;
    this.chain = this.chain.then(async () => {
      try {
        await mkdir(this.dataDir, { recursive: true });
        const tmp = `${this.file}.${process.pid}.tmp`;
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, this.file);
      } catch (err) {
        this.log.error({ err }, 'could not save the state file');
      }
    });
    return this.chain;
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

  flush(): Promise<void> {
    return this.chain;
  }
}
