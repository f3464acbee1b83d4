"""An independent MCP client for the HTTP tests: the Python `mcp` package (scripts/setup-mcp-python.sh).

Usage: python mcp_http_client.py URL MODE TOKEN TOOL [JSON_ARGS]
Connects over streamable HTTP (MODE: legacy = 2025 handshake and session, or a modern version such
as 2026-07-28), calls TOOL and prints one JSON line: the protocol era, the tool count, the result.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main() -> None:
    url, mode, token, tool = sys.argv[1:5]
    args = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with create_mcp_http_client(headers=headers) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool(tool, args)
            print(
                json.dumps(
                    {
                        "tools": len(tools.tools),
                        "is_error": bool(result.is_error),
                        "structured": result.structured_content,
                        "text": "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text"),
                    }
                )
            )


asyncio.run(main())
