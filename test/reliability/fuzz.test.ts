/**
 * Fuzzing through a real MCP client: the SDK Client over stdio against the built server, with
 * arguments generated from every tool's input schema as tools/list shows it (valid, boundary,
 * invalid, huge, unicode and NUL, shell metacharacters, path traversal, prototype keys). Nothing
 * real can start: a missing Ray CLI, an empty kubeconfig, no cloud credentials, a scratch data
 * dir. A seeded sample runs in `npm test`; `RAY_MCP_LONG=1` makes it 10,000 calls per tool.
 *
 * Memory is read the fair way. The Kubernetes and cloud SDKs load on first use (tens of MB), so a
 * warm-up round calls every tool once with valid arguments before the baseline, and the jump it
 * causes is reported on its own. And V8 lets the heap grow to a few times its live size between
 * full collections (hundreds of MB under this allocation rate), so RSS sampled during the run saws
 * up and down and the floor of a short window says nothing about leaks: the baseline and the end
 * are read after a full collection (the server runs with --expose-gc; the SIGUSR2 stats line
 * collects first), with the live heap and the live actor count next to them.
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
/** Generated calls per tool after the valid round and before the baseline: allocator pools fill up. */
const WARMUP_PER_TOOL = CALLS_PER_TOOL >= 1000 ? 200 : 4;
/**
 * The warm-up round: every tool once with valid arguments (`{}` when none are listed), the cloud and
 * Kubernetes ones once per provider, so every SDK that loads on first use has loaded before the
 * baseline. None of them can succeed here (no credentials, an empty kubeconfig, no Ray).
 */
const VALID_ARGS: Record<string, Record<string, unknown>[]> = {
  submit_ray_job: [{ entrypoint: 'python train.py' }],
  deploy_serve_app: [{ import_path: 'app:app' }],
  delete_serve_app: [{ name: 'app' }],
  list_kubernetes_clusters: [
    {},
    { provider: 'gke', project_id: 'ray-mcp-fuzz', zone: 'us-central1-a' },
    { provider: 'eks', region: 'us-east-1' },
  ],
  connect_kubernetes_cluster: [
    { context: 'fuzz' },
    { provider: 'gke', project_id: 'ray-mcp-fuzz', cluster_name: 'fuzz', zone: 'us-central1-a' },
    { provider: 'eks', region: 'us-east-1', cluster_name: 'fuzz' },
  ],
  authenticate_cloud_provider: [
    { provider: 'gke', project_id: 'ray-mcp-fuzz' },
    { provider: 'eks', region: 'us-east-1' },
  ],
  disconnect_cloud_provider: [{ provider: 'gke' }, { provider: 'eks' }],
  get_cloud_config_template: [{ provider: 'gke' }, { provider: 'eks' }, { provider: 'kuberay' }],
  create_kubernetes_cluster: [
    { provider: 'gke', cluster_spec: { name: 'fuzz', project_id: 'ray-mcp-fuzz', zone: 'us-central1-a' } },
    { provider: 'eks', cluster_spec: { name: 'fuzz', region: 'us-east-1' } },
  ],
  get_cloud_operation: [{ operation_id: 'create:gke:fuzz' }],
};
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

/** The server's SIGUSR2 stats line (RaySystem.stats). */
interface Stats {
  actors: number;
  heapMb: number;
  rssMb: number;
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
        'no cloud credentials. Memory: a warm-up round calls every tool once with valid arguments (the ' +
        'Kubernetes and cloud SDKs load on first use), then RSS is read after a full GC at the baseline and at ' +
        'the end (the server under --expose-gc; its SIGUSR2 stats line collects first), with the live heap and ' +
        'the live actors; the peak between collections is reported, not judged.',
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
      // --expose-gc: the SIGUSR2 stats line collects garbage first (memory is read after a full GC).
      args: [
        '--expose-gc',
        MAIN,
        '--ray-bin',
        '/nonexistent/ray',
        '--request-timeout',
        '10',
        '--log-level',
        'warn',
      ],
      env: sandboxEnv(),
      stderr: 'pipe',
    });
    let stderr = '';
    let pending = '';
    const statsWaiters: ((stats: Stats) => void)[] = [];
    transport.stderr?.on('data', (d: Buffer) => {
      // Bounded: a runaway log must not eat the test's memory.
      if (stderr.length < 5_000_000) stderr += d.toString();
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!.slice(-100_000);
      for (const line of lines) {
        if (!line.includes('"msg":"stats"')) continue;
        try {
          statsWaiters.shift()?.((JSON.parse(line) as { stats: Stats }).stats);
        } catch {}
      }
    });
    let closed = false;
    const client = new Client({ name: 'ray-mcp-fuzz', version: '1.0.0' });
    client.onclose = () => {
      closed = true;
    };
    await client.connect(transport);
    const pid = transport.pid!;
    /**
     * The server's memory after a full collection: its stats line (SIGUSR2), then the lowest RSS
     * over the next second, while the freed heap pages go back to the OS.
     */
    const memory = async (): Promise<Stats & { rssKb: number }> => {
      const stats = await new Promise<Stats>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no stats line within 20 s')), 20_000);
        statsWaiters.push((s) => {
          clearTimeout(timer);
          resolve(s);
        });
        process.kill(pid, 'SIGUSR2');
      });
      let low = rssKb(pid);
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 100));
        low = Math.min(low, rssKb(pid));
      }
      return { ...stats, rssKb: low };
    };
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
      const atStart = await memory();
      for (const tool of tools) {
        for (const args of VALID_ARGS[tool.name] ?? [{}]) {
          const res = await client.callTool(
            { name: tool.name, arguments: args },
            { timeout: CALL_TIMEOUT_MS },
          );
          // A valid call answers in its own terms (no Ray, no credentials), never with a schema refusal.
          const text = JSON.stringify(res.content);
          expect(text, `${tool.name} ${JSON.stringify(args)}`).not.toMatch(/Input validation error/);
        }
      }
      const afterValidRound = await memory();
      for (const [i, tool] of tools.entries()) await runTool(tool, SEED - 1 - i, WARMUP_PER_TOOL);
      const baseline = await memory();
      // During the run RSS saws with garbage collection: its peak is reported, not judged.
      let peakKb = 0;
      const sampler = setInterval(() => {
        if (!closed) peakKb = Math.max(peakKb, rssKb(pid));
      }, 250);
      calls = 0;
      invalidNotRefused = 0;
      const runStarted = Date.now();
      for (const [i, tool] of tools.entries()) {
        await runTool(tool, SEED + i, CALLS_PER_TOOL);
        figures[`calls: ${tool.name}`] = CALLS_PER_TOOL;
        if (closed) break;
      }
      const runSeconds = (Date.now() - runStarted) / 1000;
      // What the run left behind in the server's own records (failed starts, connections).
      const left = closed
        ? undefined
        : await client.callTool({ name: 'list_ray_clusters', arguments: {} }).catch(() => undefined);
      figures['clusters listed after the run'] =
        (left?.structuredContent as { clusters?: unknown[] } | undefined)?.clusters?.length ?? -1;
      clearInterval(sampler);
      const crashed = closed || !isAlive(pid);
      const atEnd = crashed ? undefined : await memory();
      const mb = (kb: number) => Math.round(kb / 102.4) / 10;
      const growthKb = atEnd ? atEnd.rssKb - baseline.rssKb : Number.NaN;
      const unhandled = (stderr.match(/uncaught exception|unhandled rejection/gi) ?? []).length;

      Object.assign(figures, {
        tools: tools.length,
        'calls per tool': CALLS_PER_TOOL,
        'calls in all': calls,
        'seconds for the run (a figure, not a check)': Math.round(runSeconds),
        'crashes (server exit)': crashed ? 1 : 0,
        'uncaught exceptions and unhandled rejections in the server log': unhandled,
        'invalid inputs not answered with an isError result': invalidNotRefused,
        'largest error answer (bytes)': largestError,
        'output schema failures': outputSchemaFailures,
        'calls timed out': timeouts,
        'RSS at start, after GC (MB)': mb(atStart.rssKb),
        'RSS after the warm-up round of valid calls (SDKs loaded on first use), after GC (MB)': mb(
          afterValidRound.rssKb,
        ),
        'warm-up jump: valid round (MB)': mb(afterValidRound.rssKb - atStart.rssKb),
        [`RSS baseline, after ${WARMUP_PER_TOOL} more generated calls per tool, after GC (MB)`]: mb(
          baseline.rssKb,
        ),
        'RSS at the end, after GC (MB)': atEnd ? mb(atEnd.rssKb) : -1,
        'RSS growth from the baseline to the end, after GC (MB)': mb(growthKb),
        'RSS peak during the run, between collections (MB)': mb(peakKb),
        'live heap at the baseline / at the end (MB)': `${baseline.heapMb} / ${atEnd?.heapMb ?? -1}`,
        'live actors at the baseline / at the end': `${baseline.actors} / ${atEnd?.actors ?? -1}`,
      });

      expect(crashed, `the server exited; stderr:\n${stderr.slice(-3000)}`).toBe(false);
      expect(unhandled, stderr.slice(-3000)).toBe(0);
      expect(invalidNotRefused, notRefused.join('\n')).toBe(0);
      expect(largestError).toBeLessThan(8192);
      expect(outputSchemaFailures).toBe(0);
      expect(atEnd?.actors, 'live actors at the end').toBe(baseline.actors);
      if (longRun()) expect(growthKb, 'RSS growth after GC').toBeLessThanOrEqual(20 * 1024);
      // Nothing real was started, and nothing is left running.
      await waitFor('no child processes', () => descendants(pid).length === 0, 30_000);
      held.push(
        `No crash, no uncaught exception or unhandled rejection, every invalid input refused, the largest error ` +
          `${largestError} bytes, no output schema failure, no child process left. Memory after a full GC: ` +
          `${mb(atStart.rssKb)} MB at start, ${mb(afterValidRound.rssKb)} MB after the valid warm-up round ` +
          `(SDKs loaded), ${mb(baseline.rssKb)} MB at the baseline, ${mb(atEnd!.rssKb)} MB after ${calls} calls ` +
          `(${growthKb >= 0 ? '+' : ''}${mb(growthKb)} MB); live heap ${baseline.heapMb} → ${atEnd!.heapMb} MB, ` +
          `live actors ${baseline.actors} → ${atEnd!.actors}; RSS peaked at ${mb(peakKb)} MB between collections.`,
      );
    } finally {
      await client.close().catch(() => {});
      await waitFor('the server to exit', () => !isAlive(pid), 30_000).catch(() =>
        process.kill(pid, 'SIGKILL'),
      );
    }
  });
});
