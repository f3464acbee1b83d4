/** The start-up baseline: a one-tool MCP server on the same SDK, zod and stdio transport as ray-mcp. */
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const server = new McpServer({ name: 'one-tool', version: '0.0.0' });
server.registerTool(
  'echo',
  { description: 'Echoes its text.', inputSchema: z.object({ text: z.string() }) },
  async ({ text }) => ({ content: [{ type: 'text', text }] }),
);
await server.connect(new StdioServerTransport());
