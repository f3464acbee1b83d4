import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderToolsDoc } from '../../src/mcp/tools-doc.js';

describe('docs/TOOLS.md', () => {
  it('is what the tool definitions generate (run `npm run docs` after changing a tool)', () => {
    const onDisk = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'TOOLS.md'), 'utf8');
    expect(onDisk).toBe(renderToolsDoc());
  });
});
