"""A real MCP client (the official Python SDK) against Hearth's MCP server.

Usage: mcp_client.py stdio HEARTH --data-dir D --workspace W
       mcp_client.py http URL TOKEN

Initialises, lists the tools and resources, calls every tool, reads the profile, makes bad calls,
and prints what it saw as one JSON document; the Swift test decides what is right.
"""

import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


def text_of(result):
    return "".join(getattr(block, "text", "") for block in result.content)


async def exercise(session):
    seen = {}
    init = await session.initialize()
    seen["server"] = init.server_info.name
    seen["protocol"] = init.protocol_version
    tools = await session.list_tools()
    seen["tools"] = sorted(tool.name for tool in tools.tools)
    seen["schemas"] = {tool.name: tool.input_schema for tool in tools.tools}
    calls = {}
    for name, arguments in [
        ("memory_remember", {"text": "The quarterly board meeting moved to Thursday 14 May in Lisbon."}),
        ("memory_search", {"query": "board meeting Lisbon", "k": 5}),
        ("memory_profile", {}),
        ("goal_start", {"goal": "Summarise each note in Notes/ into a short report"}),
        ("goal_status", {"id": 1}),
        ("approvals_list", {}),
        ("brief_latest", {}),
    ]:
        result = await session.call_tool(name, arguments)
        calls[name] = {"error": bool(result.is_error), "text": text_of(result)}
    seen["calls"] = calls
    bad = {}
    for name, arguments in [("goal_status", {"id": 999}), ("memory_search", {"query": "  "}), ("no_such_tool", {})]:
        try:
            result = await session.call_tool(name, arguments)
            bad[name] = {"error": bool(result.is_error), "text": text_of(result)}
        except Exception as error:  # a protocol error is an acceptable answer to a bad call too
            bad[name] = {"error": True, "text": f"{type(error).__name__}: {error}"}
    seen["bad"] = bad
    resources = await session.list_resources()
    seen["resources"] = sorted(str(resource.uri) for resource in resources.resources)
    reports = [uri for uri in seen["resources"] if uri.startswith("hearth://reports/")]
    if reports:
        report = await session.read_resource(reports[0])
        seen["report"] = "".join(getattr(content, "text", "") or "" for content in report.contents)
    profile = await session.read_resource("hearth://profile")
    seen["profile"] = "".join(getattr(content, "text", "") or "" for content in profile.contents)
    try:
        await session.read_resource("hearth://nothing")
        seen["bad_resource"] = "read"
    except Exception as error:
        seen["bad_resource"] = f"{type(error).__name__}: {error}"
    return seen


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        parameters = StdioServerParameters(command=sys.argv[2], args=["mcp", "serve", *sys.argv[3:]])
        async with stdio_client(parameters) as (read, write):
            async with ClientSession(read, write) as session:
                seen = await exercise(session)
    else:
        url, token = sys.argv[2], sys.argv[3]
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
            async with streamable_http_client(url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    seen = await exercise(session)
    print(json.dumps(seen))


anyio.run(main)
