"""What the MCP gateway adds to a tool call: the same calls straight to an MCP server and through
the gateway, interleaved in one run on this machine, with the official MCP SDK's client.

    python scripts/bench_gateway.py [--calls 300] [--report bench/gateway.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import platform
import statistics
import sys
import tempfile
import time

from mcp import Client

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.gateway.peers import running


async def measure(direct_url: str, gateway_url: str, calls: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"direct": [], "gateway": []}
    async with Client(direct_url) as direct, Client(gateway_url) as through:
        for client in (direct, through):
            await client.list_tools()
            for _ in range(20):  # warm connections and caches
                await client.call_tool("read_file", {"path": "README.md"})
        for index in range(calls):
            order = [("direct", direct), ("gateway", through)]
            for name, client in order if index % 2 == 0 else reversed(order):
                started = time.perf_counter()
                result = await client.call_tool("read_file", {"path": "README.md"})
                timings[name].append(time.perf_counter() - started)
                assert not result.is_error
    return timings


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
        "mean_ms": 1000 * statistics.fmean(ordered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--report", type=pathlib.Path, default=pathlib.Path("bench/gateway.json"))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running(pathlib.Path(folder)) as peers:
        print(
            f"measuring {arguments.calls} tools/call each, direct and through the gateway, interleaved",
            flush=True,
        )
        timings = asyncio.run(measure(peers.upstream_url, peers.gateway_url, arguments.calls))
    direct, gateway = summary(timings["direct"]), summary(timings["gateway"])
    report = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "calls": arguments.calls,
        "direct": direct,
        "gateway": gateway,
        "added_p50_ms": gateway["p50_ms"] - direct["p50_ms"],
        "ratio_p50": gateway["p50_ms"] / direct["p50_ms"],
    }
    arguments.report.parent.mkdir(parents=True, exist_ok=True)
    arguments.report.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'':10}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, row in (("direct", direct), ("gateway", gateway)):
        print(f"{name:10}{row['p50_ms']:10.2f}{row['p95_ms']:10.2f}{row['mean_ms']:10.2f}")
    print(
        f"the gateway adds {report['added_p50_ms']:.2f} ms per call at the median "
        f"({report['ratio_p50']:.2f}x); report: {arguments.report}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
