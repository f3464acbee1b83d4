/**
 * The audit log's lines: one per tool call that changes something, with its target, its arguments
 * (secrets removed, bounded in size) and its outcome. Pure: the file is written by
 * src/clients/audit-log.ts, the calls are recorded by src/mcp/audit.ts.
 */
import type { ErrorCode } from './errors.js';

export type AuditOutcome =
  | { result: 'ok' }
  /** ray-mcp declined to act (bad input, not allowed, in the way of something): nothing was attempted. */
  | { result: 'refused'; code: ErrorCode | string; message: string }
  /** It tried and failed (timeout, unreachable, rejected by an API, a bug). */
  | { result: 'error'; code: ErrorCode | string; message: string };

export interface AuditEntry {
  /** ISO time the call ended. */
  time: string;
  tool: string;
  /** What it acted on, as the arguments or the answer name it: cluster_id, submission_id, context, provider... */
  target: Record<string, string>;
  /** The call's arguments, secrets replaced by "[redacted]", bounded in size. */
  args: unknown;
  outcome: AuditOutcome;
  ms: number;
}

/** Where entries go: appends in order, asynchronously; never throws and never blocks a call. */
export interface AuditSink {
  record(entry: AuditEntry): void;
}

/** Error codes that mean ray-mcp refused to act rather than failed while acting. */
const REFUSALS: readonly string[] = ['invalid_input', 'forbidden', 'conflict', 'unconfirmed', 'declined'];
export const outcomeOf = (code: string, message: string): AuditOutcome => ({
  result: REFUSALS.includes(code) ? 'refused' : 'error',
  code,
  message: clip(redactText(message), MAX_MESSAGE),
});

/** Argument names whose values are secrets (matched anywhere in the name, any case). */
const SECRET_KEY = /token|passw|secret|key|credential|authorization|cookie|private/i;
/** Names whose values are maps of environment variables: the names stay, the values go. */
const ENV_KEY = /^(env|env_vars|environment)$/i;
const PROTO_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];
const REDACTED = '[redacted]';

const MAX_STRING = 256;
const MAX_ITEMS = 20;
const MAX_KEYS = 40;
const MAX_DEPTH = 6;
const MAX_MESSAGE = 300;
/** Longest `args` as JSON; anything longer is replaced by its prefix. */
export const MAX_ARGS_JSON = 4096;

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s);

/** Secrets inside free text: bearer tokens and `name=value` pairs with a secret-looking name. */
export function redactText(text: string): string {
  return text
    .replace(/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`)
    .replace(
      /\b([A-Za-z_]*(?:token|password|secret|key|credential)[A-Za-z_]*)(=|:\s?)[^\s&,;"']+/gi,
      `$1$2${REDACTED}`,
    );
}

/**
 * A copy of a call's arguments fit for the audit log: values under secret-looking names and
 * environment values replaced by "[redacted]", strings, arrays, objects and depth bounded, and the
 * whole at most MAX_ARGS_JSON characters of JSON. The one place the lead can point at a shared
 * redactor.
 */
export function scrubArgs(args: unknown): unknown {
  const scrubbed = scrub(args, 0);
  const json = JSON.stringify(scrubbed) ?? 'null';
  // The prefix is stored as a string, whose escaping can double it.
  return json.length <= MAX_ARGS_JSON ? scrubbed : { truncated: clip(json, MAX_ARGS_JSON / 2) };
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return clip(redactText(value), MAX_STRING);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'number' || typeof value === 'boolean'
      ? value
      : value === null
        ? null
        : undefined;
  }
  if (depth >= MAX_DEPTH) return '[deeper]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => scrub(v, depth + 1));
    return value.length > MAX_ITEMS ? [...items, `…(${value.length} items)`] : items;
  }
  const entries = Object.entries(value).filter(([k]) => !PROTO_KEYS.includes(k));
  const out = entries.slice(0, MAX_KEYS).map(([k, v]): [string, unknown] => {
    if (SECRET_KEY.test(k)) return [k, REDACTED];
    if (ENV_KEY.test(k) && v !== null && typeof v === 'object' && !Array.isArray(v))
      return [k, Object.fromEntries(Object.keys(v).map((name) => [name, REDACTED]))];
    return [k, scrub(v, depth + 1)];
  });
  if (entries.length > MAX_KEYS) out.push(['…', `${entries.length} keys`]);
  return Object.fromEntries(out);
}

/** Names that identify what a call acted on, in the arguments and then in the answer. */
const TARGET_KEYS = [
  'cluster_id',
  'submission_id',
  'job_id',
  'rayjob',
  'namespace',
  'kubernetes_context',
  'context',
  'provider',
  'cluster_name',
  'operation_id',
] as const;

/** The target of a call: the identifying names its arguments give, completed from its answer. */
export function auditTarget(args: unknown, answer?: unknown): Record<string, string> {
  const target: Record<string, string> = {};
  for (const source of [args, answer]) {
    if (source === null || typeof source !== 'object') continue;
    const record = source as Record<string, unknown>;
    for (const key of TARGET_KEYS) {
      const v = Object.hasOwn(record, key) ? record[key] : undefined;
      if (target[key] === undefined && typeof v === 'string' && v) target[key] = clip(v, 128);
    }
  }
  return target;
}
