import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderToolsDoc } from '../src/mcp/tools-doc.js';
import { projectRoot } from '../src/paths.js';

writeFileSync(join(projectRoot, 'docs', 'TOOLS.md'), renderToolsDoc());
