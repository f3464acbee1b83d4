/**
 * The stdio wire: newline-delimited JSON-RPC on stdin/stdout, like the SDK's StdioServerTransport
 * but bounded and talkative about bad input. A line longer than `maxMessageBytes` is skipped up to
 * its newline and refused with an error (the request's id when it can be read from the line's
 * start, else null); a line that is not UTF-8 or not JSON is answered -32700; JSON that is not a
 * JSON-RPC message, or nested too deep, is answered -32600. None of these closes the connection:
 * the server keeps answering, and stdin's end still closes it.
 */
import type { Readable, Writable } from 'node:stream';
import {
  type JSONRPCMessage,
  parseJSONRPCMessage,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/server';
import { MAX_DEPTH } from './input-safety.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
/** How much of an oversized line is kept to look for its id. */
const HEAD_BYTES = 4096;

type Id = string | number | null;

export interface StdioOptions {
  maxMessageBytes?: number;
  /** Told about each refused line (for the log); never about its content. */
  onRefused?: (what: string, bytes: number) => void;
  /** Told each time a message was written, with how many have been. */
  onSent?: (count: number) => void;
}

export class BoundedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];

  private readonly max: number;
  private sent = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private chunks: Buffer[] = [];
  private size = 0;
  /** Set while skipping the rest of an oversized line: its first bytes and how long it got. */
  private skipping?: { head: Buffer; bytes: number };
  private started = false;
  private closed = false;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    private readonly options: StdioOptions = {},
  ) {
    this.max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('BoundedStdioTransport already started');
    this.started = true;
    if (this.stdin.readableEnded || this.stdin.destroyed) setImmediate(this.onEnd);
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStdinError);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('close', this.onEnd);
    this.stdout.on('error', this.onStdoutError);
  }

  private readonly onData = (chunk: Buffer | string) => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    while (start <= buf.length) {
      const nl = buf.indexOf(0x0a, start);
      const piece = buf.subarray(start, nl === -1 ? buf.length : nl);
      if (this.skipping) {
        this.skipping.bytes += piece.length;
      } else if (this.size + piece.length > this.max) {
        const head = Buffer.concat([...this.chunks, piece.subarray(0, HEAD_BYTES)]).subarray(0, HEAD_BYTES);
        this.skipping = { head, bytes: this.size + piece.length };
        this.chunks = [];
        this.size = 0;
      } else if (piece.length > 0) {
        this.chunks.push(piece);
        this.size += piece.length;
      }
      if (nl === -1) break;
      start = nl + 1;
      if (this.skipping) {
        const { head, bytes } = this.skipping;
        this.skipping = undefined;
        this.refuse(
          topLevelId(head.toString('latin1')),
          INVALID_REQUEST,
          `Message too large: ${bytes} bytes; the limit is ${this.max} bytes (--max-message-bytes).`,
          'oversized',
          bytes,
        );
        continue;
      }
      const line = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [];
      this.size = 0;
      this.handleLine(line);
    }
  };

  private handleLine(raw: Buffer): void {
    const bytes = raw.length;
    const line = raw.at(-1) === 0x0d ? raw.subarray(0, -1) : raw;
    let text: string;
    try {
      text = this.decoder.decode(line);
    } catch {
      this.refuse(null, PARSE_ERROR, 'Parse error: the line is not valid UTF-8.', 'not utf-8', bytes);
      return;
    }
    if (text.trim() === '') return;
    if (nestingDepth(text) > MAX_DEPTH) {
      this.refuse(
        topLevelId(text.slice(0, HEAD_BYTES)),
        INVALID_REQUEST,
        `Invalid request: nested deeper than ${MAX_DEPTH} levels.`,
        'too deep',
        bytes,
      );
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.refuse(null, PARSE_ERROR, 'Parse error: the line is not JSON.', 'not json', bytes);
      return;
    }
    // Checked with the SDK's schema, but the parsed JSON itself goes on: the guard (input-safety.ts)
    // must see own keys such as `__proto__` that a schema's copy would have dropped.
    try {
      parseJSONRPCMessage(json);
    } catch {
      const id = (json as { id?: unknown } | null)?.id;
      this.refuse(
        typeof id === 'string' || typeof id === 'number' ? id : null,
        INVALID_REQUEST,
        'Invalid request: not a JSON-RPC 2.0 request, notification or response.',
        'not json-rpc',
        bytes,
      );
      return;
    }
    try {
      this.onmessage?.(json as JSONRPCMessage);
    } catch (err) {
      this.onerror?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private refuse(id: Id, code: number, message: string, what: string, bytes: number): void {
    this.options.onRefused?.(what, bytes);
    void this.send({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage).catch(
      () => {},
    );
  }

  private readonly onEnd = () => {
    void this.close();
  };
  private readonly onStdinError = (err: Error) => this.onerror?.(err);
  private readonly onStdoutError = (err: Error) => {
    if (this.closed) return;
    this.onerror?.(err);
    void this.close();
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStdinError);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('close', this.onEnd);
    // stdin is left flowing, so its end still reaches whoever else listens (main's exit).
    this.chunks = [];
    this.skipping = undefined;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('stdio transport is closed'));
    const json = serializeMessage(message);
    this.options.onSent?.(++this.sent);
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.stdout.off('drain', onDrain);
        reject(err);
      };
      const onDrain = () => {
        this.stdout.off('error', onError);
        resolve();
      };
      this.stdout.once('error', onError);
      if (this.stdout.write(json)) {
        this.stdout.off('error', onError);
        resolve();
      } else this.stdout.once('drain', onDrain);
    });
  }
}

/** The deepest nesting of `[` and `{` outside strings, stopping once past MAX_DEPTH. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > MAX_DEPTH) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/**
 * The `id` member of the top-level object at the start of a (possibly cut) JSON text, when it is
 * there and readable; null otherwise. Nested `id` keys are not taken for it.
 */
export function topLevelId(text: string): Id {
  let depth = 0;
  let i = 0;
  const n = text.length;
  const readString = (): string | undefined => {
    let out = '';
    for (i++; i < n; i++) {
      const c = text[i]!;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (c === '"') {
        i++;
        return out;
      } else out += c;
    }
    return undefined;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      const s = readString();
      if (s === undefined) return null;
      if (depth !== 1 || s !== 'id') continue;
      while (i < n && /\s/.test(text[i]!)) i++;
      if (text[i] !== ':') continue;
      i++;
      while (i < n && /\s/.test(text[i]!)) i++;
      if (text[i] === '"') {
        const v = readString();
        return v === undefined || v.length > 200 ? null : v;
      }
      const num = /^-?\d{1,15}(?=[\s,}])/.exec(text.slice(i, i + 20));
      return num ? Number(num[0]) : null;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return null;
}
