/**
 * Secrets never leave ray-mcp: one Redactor per app scrubs every tool result, every log line and
 * every file in the data dir. It removes what looks like a credential (bearer and basic tokens,
 * Authorization header values, PEM private keys, AWS keys, JWTs, secret-named fields) and anything
 * equal to a secret this server holds (the Ray token, kubeconfig tokens and client keys, cloud
 * credentials): whoever loads a secret adds it here. Text from upstream (API error bodies, Ray
 * output) is also bounded and quoted as untrusted with `untrustedText` before it goes into a message.
 */

export const REDACTED = '[redacted]';

/** Shorter values are not worth a global replace (they would hit ordinary words). */
const MIN_SECRET_LENGTH = 8;

/** A value that must not appear in any output: where secret sources register what they load. */
export interface SecretSink {
  add(...values: ReadonlyArray<string | undefined | null>): void;
  /** `text` without any secret added so far and without credential shapes. */
  text(text: string): string;
}

/**
 * Credential shapes, each linear-time (no nested quantifiers). Each is [pattern, replacement];
 * a pattern keeps the name it found and replaces only the value.
 */
function credentialPatterns(): [RegExp, string][] {
  // Characters of a header or field value, up to a quote, an escape or the end of the line.
  const value = String.raw`[^"'\\\r\n]+`;
  const sep = String.raw`(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?`;
  return [
    // PEM private keys, whole or cut short; raw newlines or JSON-escaped ones.
    [
      /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?/g,
      REDACTED,
    ],
    // Authorization and X-Ray-Authorization (and proxy-) header values, as `name: value` or `"name":"value"`.
    [new RegExp(`((?:x-ray-|proxy-)?authorization)(${sep})${value}`, 'gi'), `$1$2${REDACTED}`],
    // Header dumps and Go maps: `Authorization:[Bearer x]`, `authorization: [ 'Bearer x' ]`.
    [/((?:x-ray-|proxy-)?authorization)(\s*[:=]?\s*\[\s*['"]?)[^\]'"\r\n]+/gi, `$1$2${REDACTED}`],
    // Bearer / Basic / AWS4 credentials anywhere (a token has at least one non-letter).
    [/\b(Bearer|Basic)(\s+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${REDACTED}`],
    [/\b(Credential=)[^\s,"']+/g, `$1${REDACTED}`],
    [/\b(Signature=)[0-9a-f]{16,}/gi, `$1${REDACTED}`],
    // JWTs (header.payload[.signature]).
    [/\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*/g, REDACTED],
    // AWS access key ids.
    [/\b(?:AKIA|ASIA|AROA|AIDA|ANPA|AGPA|AIPA)[A-Z0-9]{12,}\b/g, REDACTED],
    // user:password@ in URLs.
    [/\b([a-z][a-z0-9+.-]{0,20}:\/\/)[^\s/@:"']+:[^\s/@"']+@/gi, `$1${REDACTED}@`],
    // Secret-named fields: `"private_key_id": "…"`, `aws_secret_access_key = …`, `X-Amz-Security-Token: …`,
    // `token=…`. The value must look like one (8+ characters, one of them not a letter).
    [
      new RegExp(
        String.raw`\b([\w-]{0,40}?(?:secret|token|password|passwd|api[_-]?key|access[_-]?key(?:[_-]?id)?|private[_-]?key(?:[_-]?id)?|client[_-]?key(?:[_-]?data)?|credentials?))(${sep})(?=[^\s"'\\,;}\]]*[0-9+/=_.-])[^\s"'\\,;}\]]{8,}`,
        'gi',
      ),
      `$1$2${REDACTED}`,
    ],
  ];
}

/** Credential shapes out of `text`; for code that has no Redactor at hand (it runs again at the edge). */
export function redactPatterns(text: string): string {
  let out = text;
  for (const [re, to] of credentialPatterns()) out = out.replace(re, to);
  return out;
}

/**
 * The app's redactor. Secret sources add what they load (`add`); `text` and `value` scrub
 * everything that leaves: tool results, log lines, state files.
 */
export class Redactor implements SecretSink {
  private readonly secrets = new Set<string>();
  private ordered: string[] = [];

  add(...values: ReadonlyArray<string | undefined | null>): void {
    let changed = false;
    for (const v of values) {
      if (typeof v !== 'string') continue;
      for (const s of secretForms(v)) {
        if (s.length < MIN_SECRET_LENGTH || this.secrets.has(s)) continue;
        this.secrets.add(s);
        changed = true;
      }
    }
    // Longest first: a secret that contains another goes whole.
    if (changed) this.ordered = [...this.secrets].sort((a, b) => b.length - a.length);
  }

  /** How many secret forms are known (for tests and the log). */
  get size(): number {
    return this.secrets.size;
  }

  text(text: string): string {
    let out = text;
    for (const s of this.ordered) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return redactPatterns(out);
  }

  /** A deep copy of `value` with every string scrubbed (keys too); other values as they are. */
  value<T>(value: T): T {
    return this.walk(value, 0) as T;
  }

  private walk(v: unknown, depth: number): unknown {
    if (typeof v === 'string') return this.text(v);
    if (v === null || typeof v !== 'object' || depth > 64) return v;
    if (Array.isArray(v)) return v.map((x) => this.walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = this.text(k);
      // A plain data property: never a setter, even for a key like __proto__.
      Object.defineProperty(out, key, {
        value: this.walk(x, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  /**
   * One JSON log line: scrubbed, and still one JSON line (a replacement that broke an escape gives
   * a line that says so instead).
   */
  logLine(line: string): string {
    const out = this.text(line);
    if (out === line) return line;
    try {
      JSON.parse(out);
      return out;
    } catch {
      return `${JSON.stringify({ level: 50, msg: 'log line withheld: it held a secret' })}\n`;
    }
  }
}

/**
 * The forms a secret can take in output: itself, JSON-escaped, and for a PEM key each body line
 * (a hostile server may echo part of one).
 */
function secretForms(value: string): string[] {
  const v = value.trim();
  const forms = [v, JSON.stringify(v).slice(1, -1)];
  if (v.includes('-----BEGIN')) {
    for (const line of v.split(/\r?\n/)) if (!line.startsWith('-----') && line.length >= 16) forms.push(line);
  }
  return forms;
}

/** Terminal escapes and control characters (newlines and tabs kept). */
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from outside (an API error body, Ray's output) as it may appear in a message: a Python
 * traceback reduced to its last exception line, control characters dropped, credentials removed,
 * at most `max` characters, between « » so a reader (and a model) knows it is quoted, not ours.
 */
export function untrustedText(raw: string, max = 300, secrets?: Pick<SecretSink, 'text'>): string {
  // Scrubbed before it is cut: a secret cut in half would no longer be recognized.
  let text = raw.length > 262_144 ? raw.slice(-262_144) : raw;
  text = text.replace(CONTROL, '');
  const line = lastExceptionLine(text);
  if (line) text = line;
  text = secrets ? secrets.text(text) : redactPatterns(text);
  text = text.replace(/\s+/g, ' ').trim();
  if (text.length > max) text = `${text.slice(0, max - 1)}…`;
  return `«${text.replaceAll('«', '‹').replaceAll('»', '›')}»`;
}

/**
 * The exception line of the last Python traceback in `text` (`Type: message`), if it has one: what
 * is worth showing of a traceback; the frames are internals of the far side.
 */
export function lastExceptionLine(text: string): string | undefined {
  const start = text.lastIndexOf('Traceback (most recent call last):');
  if (start < 0) return undefined;
  const lines = text.slice(start).split(/\r?\n/).slice(1);
  let last: string | undefined;
  for (const line of lines) {
    if (!line.trim() || /^\s/.test(line)) continue;
    if (/^[A-Za-z_][\w.]*(?::|$)/.test(line.trim())) return line.trim();
    last = line.trim();
  }
  // Never the frames: at worst the last line that is not one.
  return last ?? 'a Python traceback without an exception line';
}
