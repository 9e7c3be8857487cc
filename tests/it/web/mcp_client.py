"""A real MCP client (the Python `mcp` package) against `akashic mcp` over stdio.

Usage: mcp_client.py AKASHIC CONFIG -> prints one JSON report of what the server answered.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def tool_result(r):
    return {
        "is_error": bool(r.isError),
        "structured": r.structuredContent,
        "texts": [c.text for c in r.content if getattr(c, "type", "") == "text"],
    }


async def main(akashic, config):
    params = StdioServerParameters(command=akashic, args=["--config", config, "mcp"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            init = await s.initialize()
            tools = await s.list_tools()
            status = await s.call_tool("status", {})
            ask = await s.call_tool("ask", {"question": "why did web freeze", "k": 3})
            incidents = await s.call_tool("incidents", {"limit": 5})
            unknown = await s.call_tool("show", {"id": "inc-nope"})
            resources = await s.list_resources()
            digest = await s.read_resource(resources.resources[0].uri)
            return {
                "protocol": init.protocolVersion,
                "server": init.serverInfo.name,
                "tools": sorted(t.name for t in tools.tools),
                "status": tool_result(status),
                "ask": tool_result(ask),
                "incidents": tool_result(incidents),
                "unknown": tool_result(unknown),
                "resources": [
                    {"uri": str(r.uri), "name": r.name, "mime": r.mimeType}
                    for r in resources.resources
                ],
                "digest": [
                    {"uri": str(c.uri), "mime": c.mimeType, "text": c.text}
                    for c in digest.contents
                ],
            }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
