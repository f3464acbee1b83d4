/**
 * What every conversation pays for: the whole tools/list, and the part a client sends the model
 * (name, title, description, input schema), as a real client receives them. Both printed; the
 * test fails above the budget (issue 15: 45 KB and 20 KB).
 */
import { describe, expect, it } from 'vitest';
import type { Flags } from '../../src/config.js';
import { fakeServers } from '../helpers/fake-server.js';

const WHOLE_BUDGET = 45_000;
const VISIBLE_BUDGET = 20_000;

const start = fakeServers();
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('tools/list size', () => {
  it(`stays within ${WHOLE_BUDGET} bytes whole and ${VISIBLE_BUDGET} bytes model-visible`, async () => {
    const { client } = await start();
    const { tools } = await client.listTools();
    const whole = bytes(tools);
    const visible = bytes(
      tools.map(({ name, title, description, inputSchema }) => ({ name, title, description, inputSchema })),
    );
    const rows = tools
      .map((t) => ({
        name: t.name,
        visible: bytes({
          name: t.name,
          title: t.title,
          description: t.description,
          inputSchema: t.inputSchema,
        }),
        output: bytes(t.outputSchema ?? {}),
      }))
      .sort((a, b) => b.visible - a.visible);
    console.log(
      `tools/list: ${tools.length} tools, whole ${whole} B (budget ${WHOLE_BUDGET}), ` +
        `model-visible ${visible} B (budget ${VISIBLE_BUDGET})\n` +
        rows.map((r) => `  ${r.name.padEnd(30)} visible ${r.visible}, output ${r.output}`).join('\n'),
    );
    expect(visible, 'model-visible bytes').toBeLessThanOrEqual(VISIBLE_BUDGET);
    expect(whole, 'whole tools/list bytes').toBeLessThanOrEqual(WHOLE_BUDGET);
  });

  it('converts its schemas from source to exactly what the bundle lists (the prebuilt ones)', async () => {
    // The built command carries the tools/list schemas computed at build (src/mcp/listed-schemas.ts);
    // this is the conversion from source, held to the same golden the stdio test holds the bundle to.
    const { client } = await start();
    const { tools } = await client.listTools();
    await expect(`${JSON.stringify(tools, null, 2)}\n`).toMatchFileSnapshot(
      '../e2e/__snapshots__/tools-list.json',
    );
  });

  // One golden per mode: which tools it serves and what that costs (the full default list is tools-list.json).
  const modes: [string, Flags][] = [
    ['default', {}],
    ['read-only', { readOnly: true }],
    ['no-destructive', { destructive: false }],
    ['local', { toolsets: 'local' }],
    ['kuberay', { toolsets: 'kuberay' }],
    ['cloud', { toolsets: 'cloud' }],
  ];
  it.each(modes)('mode %s lists the tools its golden names', async (mode, flags) => {
    const { client } = await start(undefined, flags);
    const { tools } = await client.listTools();
    const summary = {
      tools: tools.map((t) => t.name),
      whole_bytes: bytes(tools),
      visible_bytes: bytes(
        tools.map(({ name, title, description, inputSchema }) => ({ name, title, description, inputSchema })),
      ),
    };
    await expect(`${JSON.stringify(summary, null, 2)}\n`).toMatchFileSnapshot(
      `../e2e/__snapshots__/tools-list.${mode}.json`,
    );
  });
});
