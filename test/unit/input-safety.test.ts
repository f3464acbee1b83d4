/**
 * The MCP edge, fast: the stdio framing (bounded lines, parse errors, EOF) on in-memory streams,
 * the inbound guard and the bounded validation errors through a real client over InMemoryTransport.
 */
import { PassThrough } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { estimateCost, toCreateSpec } from '../../src/domain/cloud-create.js';
import { isRayAddress } from '../../src/domain/tools/clusters.js';
import {
  boundedSchema,
  compactIssues,
  findUnsafe,
  MAX_ERROR_CHARS,
  screenInbound,
} from '../../src/mcp/input-safety.js';
import { BoundedStdioTransport, nestingDepth, topLevelId } from '../../src/mcp/stdio.js';
import { fakeServers, ok, refused } from '../helpers/fake-server.js';
import { textOf } from '../helpers/mcp.js';

function wire(maxMessageBytes = 1024) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const t = new BoundedStdioTransport(stdin, stdout, { maxMessageBytes });
  const got: unknown[] = [];
  const answers: { id: unknown; error?: { code: number; message: string } }[] = [];
  let closed = false;
  let out = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) answers.push(JSON.parse(l));
  });
  t.onmessage = (m) => got.push(m);
  t.onclose = () => {
    closed = true;
  };
  const flush = () => new Promise((r) => setImmediate(r));
  return { t, stdin, got, answers, closed: () => closed, flush };
}

describe('stdio framing', () => {
  it('refuses an oversized line with its id, skips it to the newline, and goes on', async () => {
    const w = wire(1024);
    await w.t.start();
    // The oversized line arrives in pieces, as from a pipe.
    w.stdin.write(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"x":"${'a'.repeat(600)}`);
    w.stdin.write('a'.repeat(5000));
    w.stdin.write('"}}\n{"jsonrpc":"2.0","id":8,"method":"ping"}\n');
    await w.flush();
    expect(w.answers).toEqual([
      { jsonrpc: '2.0', id: 7, error: { code: -32600, message: expect.stringMatching(/too large/) } },
    ]);
    expect(w.got).toEqual([{ jsonrpc: '2.0', id: 8, method: 'ping' }]);
  });

  it('answers -32700 to lines that are not JSON or not UTF-8, -32600 to JSON that is not JSON-RPC', async () => {
    const w = wire();
    await w.t.start();
    w.stdin.write('hello\n');
    w.stdin.write(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]));
    w.stdin.write('{"id":3,"foo":1}\n');
    w.stdin.write(`${'['.repeat(200)}\n`);
    w.stdin.write('\r\n\n   \n');
    w.stdin.write('{"jsonrpc":"2.0","id":9,"method":"ping"}\r\n');
    await w.flush();
    expect(w.answers.map((a) => [a.id, a.error?.code])).toEqual([
      [null, -32700],
      [null, -32700],
      [3, -32600],
      [null, -32600],
    ]);
    expect(w.got).toEqual([{ jsonrpc: '2.0', id: 9, method: 'ping' }]);
  });

  it('keeps own __proto__ keys for the guard to see', async () => {
    const w = wire();
    await w.t.start();
    w.stdin.write('{"jsonrpc":"2.0","id":1,"method":"x","params":{"__proto__":{"a":1}}}\n');
    await w.flush();
    const params = (w.got[0] as { params: object }).params;
    expect(Object.hasOwn(params, '__proto__')).toBe(true);
  });

  it('closes on stdin end, also after an oversized line', async () => {
    const w = wire(64 * 1024);
    await w.t.start();
    w.stdin.write('x'.repeat(200_000));
    w.stdin.end();
    await w.flush();
    await w.flush();
    expect(w.closed()).toBe(true);
  });

  it('reads the top-level id from the start of a cut line, never a nested one', () => {
    expect(topLevelId('{"jsonrpc":"2.0","id":12,"method":"x","params":{"a":"bbbb')).toBe(12);
    expect(topLevelId('{"params":{"id":5},"id":"abc","method')).toBe('abc');
    expect(topLevelId('{"params":{"id":5,"x":"yyyyy')).toBeNull();
    expect(topLevelId('{"id":1234')).toBeNull();
    expect(topLevelId('garbage')).toBeNull();
    expect(nestingDepth('{"a":"[[[[[[","b":[[1]]}')).toBe(3);
  });
});

describe('input guard', () => {
  it('finds prototype keys at any depth, and hostile depth, without recursion', () => {
    expect(findUnsafe(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))).toMatchObject({
      kind: 'prototype_key',
      key: '__proto__',
      path: 'a[0].b.__proto__',
    });
    expect(findUnsafe({ constructor: 1 })).toMatchObject({ key: 'constructor' });
    expect(findUnsafe({ a: { prototype: {} } })).toMatchObject({ key: 'prototype' });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnsafe(deep)).toMatchObject({ kind: 'too_deep' });
    expect(findUnsafe({ a: [1, { b: 'constructor' }] })).toBeUndefined();
  });

  it('answers unknown tool names (prototype keys included) as not found, with the name clipped', () => {
    const tools = new Set(['list_ray_clusters']);
    for (const name of ['__proto__', 'constructor', 'toString', 'x'.repeat(100_000)]) {
      const v = screenInbound(
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } },
        tools,
      );
      const reply = (v as { reply: { error: { code: number; message: string } } }).reply;
      expect(reply.error.code).toBe(-32602);
      expect(reply.error.message).toMatch(/not found/);
      expect(reply.error.message.length).toBeLessThan(200);
    }
  });

  it('refuses prototype keys in other requests, drops unsafe notifications', () => {
    const m = JSON.parse(
      '{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"x","__proto__":{}}}',
    ) as JSONRPCMessage;
    expect(screenInbound(m, new Set())).toMatchObject({ reply: { id: 2, error: { code: -32602 } } });
    const n = JSON.parse('{"jsonrpc":"2.0","method":"notifications/x","params":{"constructor":1}}');
    expect(screenInbound(n, new Set())).toEqual({ drop: true });
  });
});

describe('bounded validation errors', () => {
  it('collapses the same problem at many items into one line, and clips echoed keys', () => {
    const issues = z
      .object({ a: z.array(z.number()) })
      .strict()
      .safeParse({ a: Array(50_000).fill('x'), ['k'.repeat(100_000)]: 1 }).error!.issues;
    const lines = compactIssues(issues);
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).toMatch(/a\[\*\]: .*\(50000 items\)/);
    expect(lines.join('\n').length).toBeLessThan(400);
  });

  it('keeps the schema as tools/list shows it', () => {
    const s = z.object({ a: z.string().describe('A') });
    const b = boundedSchema(s);
    expect(b['~standard'].jsonSchema.input({ target: 'draft-2020-12' })).toEqual(
      s['~standard'].jsonSchema.input({ target: 'draft-2020-12' }),
    );
  });

  const start = fakeServers();

  it('every refusal stays small, whatever the input', async () => {
    const { client } = await start();
    const huge = [
      { labels: Object.fromEntries(Array.from({ length: 9000 }, (_, i) => [`K${i}`, 'x'])) },
      { ['k'.repeat(1_000_000)]: 1 },
      { workers_to_delete: Array(100_000).fill(1) },
      { cluster_id: 'x'.repeat(1_000_000) },
    ];
    for (const args of huge) {
      for (const name of ['scale_ray_cluster', 'create_kubernetes_cluster']) {
        const res = await client.callTool({ name, arguments: args }, { timeout: 30_000 });
        expect(res.isError).toBe(true);
        expect(JSON.stringify(res).length).toBeLessThan(MAX_ERROR_CHARS + 500);
      }
    }
  });

  it('refuses a __proto__ key in arguments as invalid input, starting nothing', async () => {
    const { client } = await start();
    // JSON.parse, as a transport does: an own __proto__ key.
    const args = JSON.parse('{"__proto__": {"num_cpus": 1}}');
    await refused(client, 'init_ray_cluster', args, /__proto__/, /not accepted/);
    await refused(
      client,
      'init_ray_cluster',
      JSON.parse('{"worker_nodes":[{"constructor":1}]}'),
      /constructor/,
    );
    expect((await ok(client, 'list_ray_clusters')).clusters).toEqual([]);
    const res = await client
      .callTool({ name: '__proto__', arguments: {} })
      .then(textOf, (e: Error) => e.message);
    expect(res).toMatch(/not found/);
  });
});

describe('edge checks in the domain', () => {
  it('accepts dashboard URLs and GCS addresses only', () => {
    for (const a of ['http://127.0.0.1:8265', 'https://ray.example.com', '10.0.0.1:6379', 'head-svc:6379'])
      expect(isRayAddress(a), a).toBe(true);
    for (const a of [
      '; rm -rf /tmp/x',
      'http://',
      'ftp://x:1',
      'host:99999',
      'http://u:p@h:1',
      'a b:1',
      '$(id):1',
    ])
      expect(isRayAddress(a), a).toBe(false);
  });

  it('never prices a machine type by a prototype property, and refuses unknown shapes', () => {
    const base = { name: 'c1', project_id: 'my-project-1', zone: 'us-central1-a' };
    for (const machine_type of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
      expect(() => toCreateSpec('gke', { ...base, machine_type }, {})).toThrow(/not a GKE machine type/);
    const spec = toCreateSpec('gke', { ...base, machine_type: 'e2-custom-4-8192' }, {});
    const cost = estimateCost(spec);
    expect(cost.total_per_hour).toBeUndefined();
    expect(Number.isNaN(cost.control_plane_per_hour)).toBe(false);
    expect(() => toCreateSpec('gke', { ...base, location: 'us-central1', zone: 'nowhere' }, {})).toThrow(
      /not a GCP zone/,
    );
  });
});

describe('resources of things that do not exist', () => {
  const start = fakeServers();

  it('answer resource not found (the SDK code: -32602 with data.uri), not an internal error', async () => {
    const { client } = await start();
    for (const uri of [
      'ray://clusters/nope/jobs',
      'ray://clusters/nope/jobs/raysubmit_1',
      'ray://kubernetes/none/namespaces/default/rayjobs/x',
    ]) {
      for (const call of [() => client.readResource({ uri }), () => client.subscribeResource({ uri })]) {
        const err = (await call().then(
          () => undefined,
          (e: unknown) => e,
        )) as { code?: number; data?: { uri?: string }; message?: string };
        expect(err, uri).toBeDefined();
        expect(err.code, `${uri}: ${err.message}`).toBe(-32602);
        expect(err.data?.uri).toBe(uri);
      }
    }
  });
});
