/**
 * Fuzzing through a real MCP client: the SDK Client over stdio against the built server, with
 * arguments generated from every tool's input schema as tools/list shows it (valid, boundary,
 * invalid, huge, unicode and NUL, shell metacharacters, path traversal, prototype keys). Nothing
 * real can start: a missing Ray CLI, an empty kubeconfig, no cloud credentials, a scratch data
 * dir. A seeded sample runs in `npm test`; `RAY_MCP_LONG=1` makes it 10,000 calls per tool.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { longRun, recordFigures } from '../helpers/figures.js';
import { MAIN } from '../helpers/mcp.js';
import { descendants, isAlive, waitFor } from '../helpers/processes.js';
import { rssKb, sandboxEnv } from './edge.js';

const SEED = 20261202;
/** RAY_MCP_FUZZ_CALLS overrides, to try a size between the sample and the long run. */
const CALLS_PER_TOOL = Number(process.env.RAY_MCP_FUZZ_CALLS) || (longRun() ? 10_000 : 24);
/** Calls per tool before RSS is first read, so the heap has grown to its working size. */
const WARMUP_PER_TOOL = CALLS_PER_TOOL >= 1000 ? 200 : 4;
const CONCURRENCY = 4;
const CALL_TIMEOUT_MS = 20_000;

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema, walked loosely
type Schema = Record<string, any>;
interface Case {
  args: unknown;
  /** Set when the arguments are invalid by construction: the answer must be an error. */
  invalid?: string;
}

const HOSTILE = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '💥🔥\u202e\u200b',
  'Ω≈ç√∫˜µ≤≥÷',
  '\ud800',
  '; rm -rf /tmp/ray-mcp-fuzz',
  '$(touch /tmp/ray-mcp-fuzz)',
  '`id`',
  '| cat /etc/passwd',
  '&& sleep 100',
  '../../../../etc/passwd',
  '/proc/self/environ',
  '..\\..\\windows\\system32',
  'file:///etc/shadow',
  '%00%2e%2e%2f',
  '\n\r\t',
  '{"__proto__":{}}',
  '\u0024{HOME}',
  'http://127.0.0.1:1',
  '127.0.0.1:1',
  'x'.repeat(5000),
];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** Values that fit `s` (mostly), with boundary values and hostile strings where a string goes. */
function valid(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 6) return fc.constant(null);
  if (s.anyOf) return fc.oneof(...(s.anyOf as Schema[]).map((x) => valid(x, depth + 1)));
  if ('const' in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  switch (s.type) {
    case 'string': {
      const min = s.minLength ?? 0;
      const max = Math.min(s.maxLength ?? 40, 40);
      const base = s.pattern
        ? fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length <= (s.maxLength ?? 1e9))
        : fc.string({ minLength: Math.min(min, max), maxLength: Math.max(min, max) });
      return fc.oneof({ weight: 3, arbitrary: base }, { weight: 1, arbitrary: hostileString });
    }
    case 'integer':
    case 'number': {
      const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      const hi = Math.min(s.maximum ?? 1e6, 1e9);
      const n =
        s.type === 'integer'
          ? fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) })
          : fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
      return fc.oneof(
        n,
        fc.constantFrom(lo, hi).map((x) => (s.type === 'integer' ? Math.round(x) : x)),
      );
    }
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(s.items, depth + 1), {
        minLength: s.minItems ?? 0,
        maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 4, 4)),
      });
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set<string>(s.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) shape[k] = valid(v, depth + 1);
      const fixed = fc.record(shape, { requiredKeys: [...required] });
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        const key = s.propertyNames?.pattern
          ? fc.stringMatching(new RegExp(s.propertyNames.pattern)).filter((k) => k.length <= 60)
          : fc.string({ maxLength: 20 });
        const extra = fc.dictionary(key, valid(s.additionalProperties, depth + 1), { maxKeys: 3 });
        return fc.tuple(fixed, extra).map(([a, b]) => ({ ...b, ...a }));
      }
      return fixed;
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function withOwnKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...obj };
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

function wrongTypeFor(s: Schema): unknown {
  switch (s.type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not a number';
    case 'boolean':
      return 'yes';
    case 'array':
      return { not: 'an array' };
    case 'object':
      return ['not', 'an', 'object'];
    default:
      return undefined;
  }
}

/** Cases for one tool: valid-ish arguments, and arguments invalid by construction. */
function cases(schema: Schema): fc.Arbitrary<Case> {
  const base = valid(schema) as fc.Arbitrary<Record<string, unknown>>;
  const props = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
  const typed = props.filter(([, p]) => !p.anyOf && wrongTypeFor(p) !== undefined);
  const ranged = props.filter(([, p]) => p.type === 'integer' && p.maximum !== undefined);
  const mutations: fc.Arbitrary<Case>[] = [
    base.map((args) => ({ args })),
    fc
      .tuple(base, fc.constantFrom(...PROTO_KEYS), fc.jsonValue({ maxDepth: 2 }))
      .map(([args, key, value]) => ({ args: withOwnKey(args, key, value), invalid: `top-level ${key}` })),
    fc.tuple(base, fc.constantFrom(...PROTO_KEYS)).map(([args, key]) => ({
      args: { ...args, nested: withOwnKey({ a: 1 }, key, { polluted: true }) },
      invalid: `nested ${key}`,
    })),
    base.map((args) => ({ args: { ...args, items: Array(20_000).fill(0) }, invalid: 'huge array' })),
    base.map((args) => ({
      args: { ...args, ['k'.repeat(200_000)]: 'x'.repeat(200_000) },
      invalid: 'huge key',
    })),
  ];
  if (schema.additionalProperties === false)
    mutations.push(base.map((args) => ({ args: { ...args, zz_unknown: 1 }, invalid: 'unknown key' })));
  if (typed.length)
    mutations.push(
      fc.tuple(base, fc.constantFrom(...typed)).map(([args, [k, p]]) => ({
        args: { ...args, [k]: wrongTypeFor(p) },
        invalid: `wrong type for ${k}`,
      })),
    );
  if (ranged.length)
    mutations.push(
      fc.tuple(base, fc.constantFrom(...ranged)).map(([args, [k, p]]) => ({
        args: { ...args, [k]: p.maximum + 1 },
        invalid: `${k} over its maximum`,
      })),
    );
  return fc.oneof(...mutations);
}

const figures: Record<string, number | string> = {};
const held: string[] = [];
afterAll(() => {
  recordFigures('fuzz', {
    tried: [
      `Fuzzing through the SDK Client over stdio against the built server: ${CALLS_PER_TOOL} calls per tool ` +
        '(seeded), arguments generated from each tool input schema in tools/list: valid, boundary, wrong types, ' +
        'out of range, unknown keys, 20,000-item arrays, 200 KB keys, unicode and NUL, shell metacharacters, path ' +
        'traversal, __proto__/constructor/prototype keys at the top and nested. No Ray CLI, an empty kubeconfig, ' +
        'no cloud credentials.',
    ],
    figures,
    held,
  });
});

describe('fuzzing every tool through a real MCP client', () => {
  it(`answers ${CALLS_PER_TOOL} generated calls per tool, refusing every invalid one, without crashing`, {
    timeout: CALLS_PER_TOOL > 100 ? 8 * 3600_000 : 180_000,
  }, async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MAIN, '--ray-bin', '/nonexistent/ray', '--request-timeout', '10', '--log-level', 'warn'],
      env: sandboxEnv(),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => {
      // Bounded: a runaway log must not eat the test's memory.
      if (stderr.length < 5_000_000) stderr += d.toString();
    });
    let closed = false;
    const client = new Client({ name: 'ray-mcp-fuzz', version: '1.0.0' });
    client.onclose = () => {
      closed = true;
    };
    await client.connect(transport);
    const pid = transport.pid!;
    try {
      const { tools } = await client.listTools();
      let calls = 0;
      let invalidNotRefused = 0;
      let largestError = 0;
      let timeouts = 0;
      let outputSchemaFailures = 0;
      const notRefused: string[] = [];
      const runTool = async (tool: (typeof tools)[number], seed: number, numRuns: number) => {
        const sample = fc.sample(cases(tool.inputSchema as Schema), { seed, numRuns });
        let next = 0;
        const worker = async () => {
          while (next < sample.length && !closed) {
            const c = sample[next++]!;
            calls++;
            let isError = false;
            let thrown = false;
            let size = 0;
            try {
              const res = await client.callTool(
                { name: tool.name, arguments: c.args as Record<string, unknown> },
                { timeout: CALL_TIMEOUT_MS },
              );
              isError = res.isError === true;
              if (isError) size = JSON.stringify(res).length;
            } catch (err) {
              const message = err instanceof Error ? err.message : String(err);
              if (/timed out|timeout/i.test(message)) timeouts++;
              else if (/output|structured content/i.test(message)) outputSchemaFailures++;
              thrown = true;
              size = message.length;
            }
            largestError = Math.max(largestError, size);
            if (c.invalid && (!isError || thrown)) {
              invalidNotRefused++;
              if (notRefused.length < 5) notRefused.push(`${tool.name}: ${c.invalid}`);
            }
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      };
      for (const [i, tool] of tools.entries()) await runTool(tool, SEED - 1 - i, WARMUP_PER_TOOL);
      const rssBefore = rssKb(pid);
      // RSS saws up and down with garbage collection; a leak raises its floor. Sampled every 250 ms,
      // the floor of the first and of the last tenth of the run are compared.
      const samples: number[] = [];
      const sampler = setInterval(() => {
        if (isAlive(pid)) samples.push(rssKb(pid));
      }, 250);
      calls = 0;
      invalidNotRefused = 0;
      for (const [i, tool] of tools.entries()) {
        const rssToolBefore = closed ? 0 : rssKb(pid);
        await runTool(tool, SEED + i, CALLS_PER_TOOL);
        figures[`calls: ${tool.name}`] = CALLS_PER_TOOL;
        if (!closed && isAlive(pid))
          figures[`RSS growth (MB): ${tool.name}`] = Math.round((rssKb(pid) - rssToolBefore) / 102.4) / 10;
        if (closed) break;
      }
      // What the run left behind in the server's own records (failed starts, connections).
      const left = closed
        ? undefined
        : await client.callTool({ name: 'list_ray_clusters', arguments: {} }).catch(() => undefined);
      figures['clusters listed after the run'] =
        (left?.structuredContent as { clusters?: unknown[] } | undefined)?.clusters?.length ?? -1;
      const crashed = closed || !isAlive(pid);
      const rssAfter = crashed ? 0 : rssKb(pid);
      clearInterval(sampler);
      const tenth = Math.max(1, Math.floor(samples.length / 10));
      const floorBefore = Math.min(rssBefore, ...samples.slice(0, tenth));
      const floorAfter = samples.length ? Math.min(...samples.slice(-tenth)) : rssAfter;
      const mb = (kb: number) => Math.round(kb / 102.4) / 10;
      const unhandled = (stderr.match(/uncaught exception|unhandled rejection/gi) ?? []).length;

      Object.assign(figures, {
        tools: tools.length,
        'calls per tool': CALLS_PER_TOOL,
        'calls in all': calls,
        'crashes (server exit)': crashed ? 1 : 0,
        'uncaught exceptions and unhandled rejections in the server log': unhandled,
        'invalid inputs not answered with an isError result': invalidNotRefused,
        'largest error answer (bytes)': largestError,
        'output schema failures': outputSchemaFailures,
        'calls timed out': timeouts,
        'RSS before (MB)': Math.round(rssBefore / 102.4) / 10,
        'RSS after (MB)': Math.round(rssAfter / 102.4) / 10,
        'RSS growth (MB)': Math.round((rssAfter - rssBefore) / 102.4) / 10,
        'RSS floor, first tenth of the run (MB)': mb(floorBefore),
        'RSS floor, last tenth of the run (MB)': mb(floorAfter),
        'RSS floor growth (MB)': mb(floorAfter - floorBefore),
      });

      expect(crashed, `the server exited; stderr:\n${stderr.slice(-3000)}`).toBe(false);
      expect(unhandled, stderr.slice(-3000)).toBe(0);
      expect(invalidNotRefused, notRefused.join('\n')).toBe(0);
      expect(largestError).toBeLessThan(8192);
      expect(outputSchemaFailures).toBe(0);
      if (longRun()) expect(floorAfter - floorBefore, 'RSS floor growth').toBeLessThanOrEqual(20 * 1024);
      // Nothing real was started, and nothing is left running.
      await waitFor('no child processes', () => descendants(pid).length === 0, 30_000);
      held.push(
        `No crash, no uncaught exception or unhandled rejection, every invalid input refused, the largest error ` +
          `${largestError} bytes, no output schema failure, no child process left; RSS ${figures['RSS before (MB)']} ` +
          `→ ${figures['RSS after (MB)']} MB (floor ${mb(floorBefore)} → ${mb(floorAfter)} MB).`,
      );
    } finally {
      await client.close().catch(() => {});
      await waitFor('the server to exit', () => !isAlive(pid), 30_000).catch(() =>
        process.kill(pid, 'SIGKILL'),
      );
    }
  });
});
