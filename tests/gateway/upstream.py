"""A real MCP server (the official SDK's MCPServer over Streamable HTTP) for the gateway tests.

Its tools cover the policy vocabulary by their MCP annotations; every call it actually receives
is appended to the --calls file, so a test can tell a refused call never reached it.

    python -m tests.gateway.upstream --port 8123 --calls calls.log
"""

from __future__ import annotations

import argparse
import pathlib

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations


def server(calls: pathlib.Path) -> MCPServer:
    mcp = MCPServer("techsapo-test-tools")

    def record(name: str) -> None:
        with calls.open("a") as log:  # the test server's own evidence file, not the operator's
            log.write(name + "\n")

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def read_file(path: str) -> str:
        """Read a file."""
        record("read_file")
        return f"contents of {path}"

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def search_code(query: str) -> str:
        """Search the code."""
        record("search_code")
        return f"3 matches for {query}"

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
    def write_file(path: str, text: str) -> str:
        """Write a file."""
        record("write_file")
        return f"wrote {len(text)} bytes to {path}"

    @mcp.tool()
    def mystery(value: str) -> str:
        """A tool that says nothing about what it does."""
        record("mystery")
        return value

    return mcp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls", type=pathlib.Path, required=True)
    arguments = parser.parse_args()
    app = server(arguments.calls).streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=arguments.port, log_level="warning")


if __name__ == "__main__":
    main()
