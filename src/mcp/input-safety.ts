/**
 * Input safety at the MCP edge, in one place for every transport:
 * - `guardTransport` screens each inbound message before the SDK sees it (prototype keys such as
 *   `__proto__` at any depth, nesting deeper than MAX_DEPTH, unknown tool names) and bounds every
 *   outbound error (JSON-RPC errors and `isError` results) to a few KB;
 * - `boundedSchema` gives a zod schema compact validation errors: one line per kind of problem,
 *   array items collapsed, echoed keys and values clipped, so a 100,000-item array or a 1 MB key
 *   still gives a short error.
 * The stdio framing (line size, UTF-8, JSON parse errors) is in stdio.ts.
 */
import type { JSONRPCMessage, StandardSchemaWithJSON, Transport } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import { LISTED_TARGET } from './listed-schemas.js';

/** Keys that would reach an object's prototype when copied: refused anywhere in a message. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** Deepest nesting accepted in a message (ray-mcp's own arguments nest about 6 levels). */
export const MAX_DEPTH = 64;
/** Longest error text a client gets, in characters. */
export const MAX_ERROR_CHARS = 4000;
/** Most elements (array items plus object keys) in one tool call's arguments; the SDK refuses more. */
export const MAX_TOOL_INPUT_ELEMENTS = 10_000;

const INVALID_PARAMS = -32602;

/** `text` cut to `max` characters, saying how much was cut. */
export function clip(text: string, max = 200): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** A key or value as it may be echoed back: JSON-quoted and clipped. */
function echo(value: unknown, max = 40): string {
  const s = typeof value === 'string' ? value : String(value);
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

export type Unsafe =
  | { kind: 'prototype_key'; key: string; path: string }
  | { kind: 'too_deep'; path: string };

/**
 * The first prototype key or too-deep nesting in `value`, or undefined. Iterative: a hostile depth
 * never overflows the stack. Own keys only (JSON.parse makes `__proto__` an own key).
 */
export function findUnsafe(value: unknown, maxDepth = MAX_DEPTH): Unsafe | undefined {
  const stack: { node: unknown; path: string[]; depth: number }[] = [{ node: value, path: [], depth: 0 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= maxDepth) return { kind: 'too_deep', path: formatPath(path) };
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        const child = node[i];
        if (child !== null && typeof child === 'object')
          stack.push({ node: child, path: [...path, String(i)], depth: depth + 1 });
      }
      continue;
    }
    for (const key of Object.keys(node)) {
      if (PROTOTYPE_KEYS.has(key)) return { kind: 'prototype_key', key, path: formatPath([...path, key]) };
      const child = (node as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object')
        stack.push({ node: child, path: [...path, key], depth: depth + 1 });
    }
  }
  return undefined;
}

function formatPath(path: readonly (string | number | symbol)[]): string {
  if (path.length === 0) return '(top level)';
  const shown = path.length > 8 ? [...path.slice(0, 3), '…', ...path.slice(-4)] : path;
  return shown
    .map((p, i) => {
      const s = String(p);
      if (typeof p === 'number' || /^\d+$/.test(s) || s === '*') return `[${s}]`;
      if (s === '…') return '.…';
      const key = s.length > 40 ? `${s.slice(0, 40)}…` : s;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

export function describeUnsafe(u: Unsafe, where: string): string {
  return u.kind === 'prototype_key'
    ? `${where} contain the key "${u.key}" (at ${u.path}); the keys __proto__, constructor and prototype are not accepted anywhere. Remove it.`
    : `${where} are nested deeper than ${MAX_DEPTH} levels (at ${u.path}). Send flatter input.`;
}

/** A random, per-process key: a guard refusal travels to the tool's schema under it, never spoofable. */
let refusalKey: string | undefined;
/** Made on first use (Web Crypto's getter loads the crypto module only then, off the start-up path). */
const refusal = () => (refusalKey ??= `ray-mcp-refused-${globalThis.crypto.randomUUID()}`);

interface Issue {
  code?: string;
  path?: readonly PropertyKey[];
  message: string;
  keys?: readonly string[];
  input?: unknown;
}

/** Zod issues as at most `maxLines` short lines: same problem at many array items is one line. */
export function compactIssues(issues: readonly Issue[], maxLines = 8): string[] {
  const groups = new Map<string, { line: string; count: number }>();
  for (const issue of issues) {
    const generic = (issue.path ?? []).map((p) => (typeof p === 'number' ? '*' : String(p)));
    const message =
      issue.code === 'unrecognized_keys' && issue.keys
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys
            .slice(0, 3)
            .map((k) => echo(k))
            .join(', ')}${issue.keys.length > 3 ? ` and ${issue.keys.length - 3} more` : ''}`
        : clip(issue.message, 160);
    const id = `${generic.join('\u0000')}\u0001${message}`;
    const g = groups.get(id);
    if (g) g.count++;
    else if (groups.size < 1000)
      groups.set(id, { line: `${generic.length ? `${formatPath(generic)}: ` : ''}${message}`, count: 1 });
  }
  const lines = [...groups.values()]
    .slice(0, maxLines)
    .map((g) => (g.count > 1 ? `${g.line} (${g.count} items)` : g.line));
  if (groups.size > maxLines) lines.push(`and ${groups.size - maxLines} more problem(s)`);
  return lines;
}

type JsonSchemaOf = StandardSchemaWithJSON<unknown, unknown>['~standard']['jsonSchema'];
type JsonObject = Record<string, unknown>;

/**
 * `converter` computing each JSON Schema once (tools/list asks on every call), passed through
 * `listed`; `prebuilt` is the listed schema the build computed for the SDK's dialect (listed-schemas.ts).
 */
function listedJson(
  converter: JsonSchemaOf,
  listed: (json: JsonObject) => JsonObject,
  prebuilt?: { io: 'input' | 'output'; json: JsonObject },
): JsonSchemaOf {
  const memo = new Map<string, JsonObject>();
  if (prebuilt) memo.set(`${prebuilt.io}\u0000${LISTED_TARGET}`, prebuilt.json);
  const once =
    (io: 'input' | 'output') =>
    (options: Parameters<JsonSchemaOf['input']>[0]): JsonObject => {
      const key = `${io}\u0000${options.target}`;
      let json = memo.get(key);
      if (!json) {
        json = listed(converter[io](options) as JsonObject);
        memo.set(key, json);
      }
      return json;
    };
  return { input: once('input'), output: once('output') };
}

/**
 * `schema` as the SDK takes it (Standard Schema with JSON Schema), with compact errors, and
 * refusing the input the guard marked. tools/list shows its JSON Schema passed through `listed`
 * (schema-json.ts: what a model needs to read), computed once.
 */
export function boundedSchema<S extends z.ZodType>(
  schema: S,
  listed: (json: JsonObject) => JsonObject = (json) => json,
  prebuilt?: { io: 'input' | 'output'; json: JsonObject },
): StandardSchemaWithJSON<z.input<S>, z.output<S>> {
  const std = schema['~standard'] as unknown as StandardSchemaWithJSON<z.input<S>, z.output<S>>['~standard'];
  return {
    '~standard': {
      version: 1,
      vendor: 'ray-mcp',
      jsonSchema: listedJson(std.jsonSchema as JsonSchemaOf, listed, prebuilt),
      validate: (value: unknown) => validateBounded(schema, value),
    },
  };
}

/**
 * Like boundedSchema, for a schema not built yet: tools/list shows the build's JSON Schema
 * (`json`, listed-schemas.ts, whatever dialect is asked), and the first validation loads the zod
 * schema (`load`).
 */
export function lazyBoundedSchema(
  load: () => Promise<z.ZodType>,
  json: JsonObject,
): StandardSchemaWithJSON<unknown, unknown> {
  return {
    '~standard': {
      version: 1,
      vendor: 'ray-mcp',
      jsonSchema: { input: () => json, output: () => json },
      validate: async (value: unknown) => {
        let schema: z.ZodType;
        try {
          schema = await load();
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          return {
            issues: [
              { message: clip(`ray-mcp could not load this tool's code (${why}); try the call again`, 300) },
            ],
          };
        }
        return validateBounded(schema, value);
      },
    },
  };
}

async function validateBounded<S extends z.ZodType>(schema: S, value: unknown) {
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, refusal())) {
    return { issues: [{ message: String((value as Record<string, unknown>)[refusal()]) }] };
  }
  const parsed = await schema.safeParseAsync(value);
  if (parsed.success) return { value: parsed.data as z.output<S> };
  return { issues: [{ message: compactIssues(parsed.error.issues as Issue[]).join('; ') }] };
}

type Reply = { drop: true } | { reply: JSONRPCMessage } | { replace: JSONRPCMessage } | undefined;

/** What to do with one inbound message: pass it (undefined), answer it, drop it, or pass a rewrite. */
export function screenInbound(message: JSONRPCMessage, toolNames: ReadonlySet<string>): Reply {
  const m = message as { id?: string | number; method?: unknown; params?: unknown };
  if (typeof m.method !== 'string') return undefined; // a response to a request of ours
  const isRequest = m.id !== undefined;
  const params = m.params as Record<string, unknown> | undefined;
  const refuse = (text: string): Reply =>
    isRequest
      ? { reply: { jsonrpc: '2.0', id: m.id!, error: { code: INVALID_PARAMS, message: clip(text, 600) } } }
      : { drop: true };
  if (m.method === 'tools/call' && params && typeof params === 'object') {
    const name = params.name;
    if (typeof name === 'string' && !toolNames.has(name)) return refuse(`Tool ${echo(name, 64)} not found`);
    const args = params.arguments;
    const bad = findUnsafe(args, MAX_DEPTH - 2);
    if (bad) {
      // Answered as an isError result through the SDK (the tool's own schema reports it).
      return {
        replace: {
          ...message,
          params: { ...params, arguments: { [refusal()]: describeUnsafe(bad, 'The arguments') } },
        } as JSONRPCMessage,
      };
    }
    const rest = findUnsafe({ ...message, params: { ...params, arguments: undefined } });
    return rest ? refuse(describeUnsafe(rest, 'The request fields')) : undefined;
  }
  const bad = findUnsafe(message);
  return bad ? refuse(describeUnsafe(bad, `The ${clip(m.method, 40)} request fields`)) : undefined;
}

/** An outbound message with every error bounded: JSON-RPC error messages and data, isError results. */
export function boundOutbound(message: JSONRPCMessage): JSONRPCMessage {
  const m = message as {
    error?: { code: number; message: string; data?: unknown };
    result?: { isError?: boolean; content?: { type: string; text?: string }[] };
  };
  if (m.error) {
    const { code, message: text, data } = m.error;
    let boundedData = data;
    if (data !== undefined) {
      const json = JSON.stringify(data) ?? '';
      if (json.length > 1000) {
        const uri = (data as { uri?: unknown })?.uri;
        boundedData = typeof uri === 'string' ? { uri: clip(uri, 300) } : undefined;
      }
    }
    if (text.length <= MAX_ERROR_CHARS && boundedData === data) return message;
    return {
      ...message,
      error: {
        code,
        message: clip(text, MAX_ERROR_CHARS),
        ...(boundedData !== undefined && { data: boundedData }),
      },
    } as JSONRPCMessage;
  }
  const r = m.result;
  if (r?.isError && Array.isArray(r.content)) {
    let budget = MAX_ERROR_CHARS;
    const content = r.content.slice(0, 4).map((c) => {
      if (c.type !== 'text' || typeof c.text !== 'string') return c;
      const text = clip(c.text, Math.max(budget, 100));
      budget -= text.length;
      return { ...c, text };
    });
    return { ...message, result: { ...r, content } } as JSONRPCMessage;
  }
  return message;
}

/**
 * `inner` with its inbound messages screened and its outbound errors bounded. The server connects
 * to this instead of the transport it was given, whatever the transport.
 */
export function guardTransport(
  inner: Transport,
  toolNames: ReadonlySet<string>,
  onRefused: (method: string, why: string) => void = () => {},
): Transport {
  let onmessage: Transport['onmessage'];
  const send = (message: JSONRPCMessage, options?: Parameters<Transport['send']>[1]) =>
    inner.send(boundOutbound(message), options);
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'onmessage') return onmessage;
      if (prop === 'send') return send;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(target, prop, value) {
      if (prop !== 'onmessage') return Reflect.set(target, prop, value, target);
      onmessage = value;
      target.onmessage = value
        ? (message, extra) => {
            const verdict = screenInbound(message, toolNames);
            if (!verdict) return onmessage?.(message, extra);
            const method = String((message as { method?: unknown }).method);
            if ('reply' in verdict) {
              onRefused(method, (verdict.reply as { error?: { message: string } }).error?.message ?? '');
              void send(verdict.reply).catch(() => {});
            } else if ('replace' in verdict) {
              onRefused(method, 'unsafe arguments');
              onmessage?.(verdict.replace, extra);
            } else onRefused(method, 'unsafe notification dropped');
          }
        : undefined;
      return true;
    },
  });
}
