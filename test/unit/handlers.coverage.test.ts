/**
 * Every tool the server lists has fast handler cases: a `describe('<tool name>')` block in one of
 * the test/unit/handlers.*.test.ts files, with at least one call that must succeed (`ok`, or
 * `callTool` checked by hand) and one that must be refused (`refused`). A new tool without them
 * fails here; so does a block for a tool that is gone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fakeServers } from '../helpers/fake-server.js';

const start = fakeServers();

/** Tool name → the source of its describe block(s), from every handlers.*.test.ts file. */
function describedTools(): Map<string, string> {
  const blocks = new Map<string, string>();
  const dir = import.meta.dirname;
  for (const file of readdirSync(dir).filter((f) => /^handlers\..+\.test\.ts$/.test(f))) {
    const parts = readFileSync(join(dir, file), 'utf8')
      .split(/^describe\(/m)
      .slice(1);
    for (const part of parts) {
      const name = /^'([a-z_]+)'/.exec(part)?.[1];
      if (name) blocks.set(name, (blocks.get(name) ?? '') + part);
    }
  }
  return blocks;
}

it('has a happy case and a refusal for every tool in tools/list', async () => {
  const { client } = await start();
  const { tools } = await client.listTools();
  const listed = tools.map((t) => t.name);
  const blocks = describedTools();
  expect(listed.length).toBeGreaterThan(20);
  expect(
    listed.filter((n) => !blocks.has(n)),
    'tools without a describe block',
  ).toEqual([]);
  expect(
    [...blocks.keys()].filter((n) => !listed.includes(n)),
    'describe blocks for tools that are not listed',
  ).toEqual([]);
  const missing = listed.flatMap((n) => {
    const src = blocks.get(n) ?? '';
    return [
      ...(/\bok\(|\.callTool\(/.test(src) ? [] : [`${n}: no happy case`]),
      ...(/\brefused\(/.test(src) ? [] : [`${n}: no refusal case`]),
    ];
  });
  expect(missing).toEqual([]);
});
