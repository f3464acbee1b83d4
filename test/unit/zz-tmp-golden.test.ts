import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startInMemoryServer } from '../helpers/mcp.js';

it('tools/list from source matches the golden file', async () => {
  const s = await startInMemoryServer({});
  try {
    const { tools } = await s.client.listTools();
    const golden = readFileSync(join(import.meta.dirname, '..', 'e2e', '__snapshots__', 'tools-list.json'), 'utf8');
    expect(`${JSON.stringify(tools, null, 2)}\n`).toBe(golden);
  } finally {
    await s.close();
  }
});
