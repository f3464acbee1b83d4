/**
 * Protocol abuse on stdio, against the built server on raw pipes: whatever arrives, the server
 * answers what it can, keeps answering (a ping after each abuse), writes nothing but JSON-RPC,
 * and exits when stdin closes (also with a child process running).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { recordFigures } from '../helpers/figures.js';
import { descendants, isAlive, waitFor } from '../helpers/processes.js';
import { hangingRay, RawServer } from './edge.js';

const servers: RawServer[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.kill();
});

function start(args: string[] = []): RawServer {
  const s = new RawServer(args);
  servers.push(s);
  return s;
}

/** What was sent and how it was answered, for docs/RELIABILITY.md. */
const sent: Record<string, number> = {};
const answered: Record<string, number> = {};
const held: string[] = [];
const count = (what: string, ok: boolean, n = 1) => {
  sent[what] = (sent[what] ?? 0) + n;
  if (ok) answered[what] = (answered[what] ?? 0) + n;
};

afterAll(() => {
  const figures: Record<string, number> = {};
  for (const [k, v] of Object.entries(sent)) {
    figures[`${k}: sent`] = v;
    figures[`${k}: answered`] = answered[k] ?? 0;
  }
  recordFigures('protocol', {
    tried: [
      'Raw stdio against the built server: non-JSON lines, invalid UTF-8, 100,000-deep nesting, a 12 MiB line, ' +
        'unparseable JSON, JSON that is not JSON-RPC, requests before initialize, a second initialize, ' +
        '1,000 concurrent tool calls; a ping after each; stdin closed at the end.',
    ],
    figures,
    held,
  });
});

describe('protocol abuse on stdio', () => {
  it('answers every abuse with an error, answers a ping after each, and exits on stdin close', async () => {
    const s = start();
    // Before initialize: a request is answered (result or error), never left hanging.
    const early = await s.request('tools/list', {});
    expect(early.result ?? early.error).toBeDefined();
    count('request before initialize', true);
    const init = await s.initialize();
    expect(init.result?.serverInfo).toMatchObject({ name: 'ray-mcp' });

    const abuses: [string, string | Buffer, number | undefined][] = [
      ['non-JSON line', 'hello world\n', -32700],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d, 0x0a]), -32700],
      ['unparseable JSON', '{"jsonrpc":"2.0","id":5,"method":\n', -32700],
      ['JSON that is not JSON-RPC', '[1,2,3]\n', -32600],
      ['deep nesting (100,000 levels)', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}\n`, -32600],
      ['NUL bytes', '\u0000\u0000{"jsonrpc":"2.0"}\u0000\n', -32700],
    ];
    for (const [what, bytes, code] of abuses) {
      const before = s.answers.length;
      s.write(bytes);
      const a = await s.until(what, (all) => all.slice(before).find((x) => x.error));
      expect(a.error?.code, what).toBe(code);
      expect(a.id, what).toBeNull();
      count(what, true);
      expect(await s.ping(), `a ping after ${what}`).toBe(true);
      count(`ping after ${what}`, true);
    }

    // An oversized frame (12 MiB, over the SDK's 10 MiB buffer that used to leave the server deaf):
    // refused with its own id, the rest of the line skipped.
    const big = `{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{"name":"list_ray_clusters","arguments":{"x":"${'x'.repeat(12 * 1024 * 1024)}"}}}\n`;
    s.write(big);
    const refusal = await s.answerTo('big-1', 60_000);
    expect(refusal.error).toMatchObject({ code: -32600, message: expect.stringMatching(/too large/) });
    count('oversized frame (12 MiB)', true);
    expect(await s.ping()).toBe(true);
    count('ping after oversized frame (12 MiB)', true);

    // A second initialize is answered, and the connection goes on.
    const again = await s.initialize();
    expect(again.result ?? again.error).toBeDefined();
    count('second initialize', true);
    expect(await s.ping()).toBe(true);

    // 1,000 concurrent tool calls, written at once: every one answered, by id.
    const ids = Array.from({ length: 1000 }, (_, i) => `c${i}`);
    s.write(
      ids
        .map(
          (id) =>
            `${JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'list_ray_clusters', arguments: {} } })}\n`,
        )
        .join(''),
    );
    const done = await s.until(
      '1,000 answers',
      (all) => {
        const got = new Set(
          all.filter((a) => typeof a.id === 'string' && a.id.startsWith('c')).map((a) => a.id),
        );
        return got.size >= ids.length && got;
      },
      120_000,
    );
    const ok = s.answers.filter(
      (a) => typeof a.id === 'string' && /^c\d+$/.test(a.id) && a.result && !a.result.isError,
    );
    count('concurrent tool calls', true, done.size);
    expect(ok).toHaveLength(1000);
    expect(await s.ping()).toBe(true);

    expect(s.junk, 'stdout holds only JSON-RPC').toBe(0);
    s.child.stdin!.end();
    const code = await s.exited;
    expect(code).toBe(0);
    held.push(
      'Every abuse was answered with an error (-32700 or -32600, id null; the oversized frame with its own id), a ping ' +
        'was answered after each, all 1,000 concurrent calls were answered, stdout held only JSON-RPC, and the server ' +
        'exited 0 when stdin closed.',
    );
    expect(s.stderr).not.toMatch(/uncaught exception|unhandled rejection/i);
  });

  it('after an oversized frame, still exits on stdin close while a child process runs', async () => {
    const fakeRay = hangingRay();
    const s = start(['--ray-bin', fakeRay]);
    await s.initialize();
    s.send({
      jsonrpc: '2.0',
      id: 'env',
      method: 'tools/call',
      params: { name: 'check_environment', arguments: {} },
    });
    const children = await waitFor('the hanging ray child', () => {
      const d = descendants(s.pid);
      return d.some((p) => p.cmdline.includes(fakeRay)) && d;
    });
    s.write(
      `{"jsonrpc":"2.0","id":"big","method":"ping","params":{"x":"${'y'.repeat(11 * 1024 * 1024)}"}}\n`,
    );
    await s.answerTo('big', 60_000);
    expect(await s.ping()).toBe(true);
    s.child.stdin!.end();
    await waitFor(
      'the server to exit',
      () => s.child.exitCode !== null || s.child.signalCode !== null,
      30_000,
    );
    for (const c of children) expect(isAlive(c.pid), `${c.pid} ${c.cmdline}`).toBe(false);
    count('stdin close after an oversized frame, child running', true);
    held.push(
      'After an oversized frame, with a child process running, closing stdin ended the server and its child.',
    );
  });
});
