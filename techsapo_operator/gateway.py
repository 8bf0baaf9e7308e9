"""``techsapo-operator gateway``: an MCP reverse proxy that enforces the operations policy.

Clients speak MCP's Streamable HTTP transport to ``/mcp/<upstream>``; the gateway forwards each
JSON-RPC message to that upstream MCP server (session and protocol headers, JSON and
Server-Sent-Event answers alike) except a ``tools/call`` the policy refuses, which is answered
with a JSON-RPC error naming the rule and never reaches the upstream. ``tools/list`` answers
lose the tools the policy refuses. The policy is re-read from disk every second; one that cannot
be parsed leaves the last good one in force (and, if there never was one, everything is denied).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pathlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import prometheus_client
from aiohttp import web

from techsapo_operator import policies

logger = logging.getLogger(__name__)
audit = logging.getLogger("techsapo.audit")

FORWARDED_REQUEST_HEADERS = (
    "accept",
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
)
FORWARDED_RESPONSE_HEADERS = ("content-type", "mcp-session-id", "mcp-protocol-version", "cache-control")
POLICY_REFUSED = -32001  # a server-defined JSON-RPC error code
UPSTREAM_FAILED = -32002

CALLS = prometheus_client.Counter(
    "techsapo_gateway_calls_total",
    "tools/call requests, by upstream, operation and decision.",
    ["upstream", "operation", "decision"],
)
UPSTREAM_SECONDS = prometheus_client.Histogram(
    "techsapo_gateway_upstream_seconds", "Time until the upstream answered a forwarded request.", ["upstream"]
)
ERRORS = prometheus_client.Counter(
    "techsapo_gateway_errors_total", "Requests that failed, by upstream and kind.", ["upstream", "kind"]
)
POLICY_LOADS = prometheus_client.Counter(
    "techsapo_gateway_policy_loads_total", "Policy reads that changed the policy, by outcome.", ["outcome"]
)


@dataclass(frozen=True)
class Options:
    policy: pathlib.Path
    upstreams: dict[str, str]
    listen: str = "0.0.0.0:8090"
    max_body_bytes: int = 1 << 20
    timeout_seconds: float = 30
    reload_seconds: float = 1


def _error(message_id: Any, code: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": message_id, "error": error}


class Gateway:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.policy = policies.Policy()
        self._policy_data: dict[str, Any] | None = None
        self._rejected: dict[str, Any] | None = None
        self._annotations: dict[str, dict[str, dict[str, Any] | None]] = {
            name: {} for name in options.upstreams
        }
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(options.timeout_seconds, connect=5))

    # The policy.
    def reload(self) -> None:
        """Read the policy from disk; keep the last good one if the new one cannot be enforced."""
        try:
            data = policies.read(self.options.policy)
        except (OSError, policies.PolicyError) as error:
            self._reject(data=None, error=error)
            return
        if data == self._policy_data:
            return
        try:
            self.policy = policies.parse(data, source=str(self.options.policy))
        except policies.PolicyError as error:
            self._reject(data=data, error=error)
            return
        self._policy_data = data
        POLICY_LOADS.labels(outcome="loaded").inc()
        logger.info(
            "policy loaded from %s: allowed %s, forbidden %s",
            self.options.policy,
            sorted(op.value for op in self.policy.allowed),
            sorted(op.value for op in self.policy.forbidden),
        )

    def _reject(self, *, data: dict[str, Any] | None, error: Exception) -> None:
        if data is not None and data == self._rejected:
            return  # said once for this content
        self._rejected = data
        POLICY_LOADS.labels(outcome="rejected").inc()
        kept = "keeping the last good policy" if self._policy_data is not None else "denying every call"
        logger.error(
            "POLICY REJECTED: %s is not an enforceable policy (%s); %s", self.options.policy, error, kept
        )

    async def reload_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.reload_seconds)
            self.reload()

    # Requests.
    def _upstream(self, request: web.Request) -> tuple[str, str]:
        name = request.match_info["upstream"]
        if name not in self.options.upstreams:
            raise web.HTTPNotFound(
                text=f"no upstream MCP server named {name}; known: "
                f"{', '.join(sorted(self.options.upstreams))}"
            )
        return name, self.options.upstreams[name]

    def _refusal(self, upstream: str, message: dict[str, Any], session: str | None) -> dict[str, Any] | None:
        """The JSON-RPC error for a refused tools/call, or None when the call may go through."""
        if message.get("method") != "tools/call":
            return None
        tool = str((message.get("params") or {}).get("name", ""))
        verdict = policies.judge(self.policy, tool, self._annotations[upstream].get(tool))
        decision = "allowed" if verdict.allowed else "denied"
        CALLS.labels(upstream=upstream, operation=verdict.operation, decision=decision).inc()
        audit.info(
            json.dumps(
                {
                    "event": "tools/call",
                    "upstream": upstream,
                    "tool": tool,
                    "operation": verdict.operation,
                    "decision": decision,
                    "rule": verdict.rule,
                    "session": session,
                    "reason": verdict.reason,
                },
                sort_keys=True,
            )
        )
        if verdict.allowed:
            return None
        return _error(
            message.get("id"),
            POLICY_REFUSED,
            f"refused by the operations policy: {verdict.reason}",
            {"rule": verdict.rule, "operation": verdict.operation, "tool": tool},
        )

    def _filter(self, upstream: str, message: Any, listing: set[Any]) -> Any:
        """A tools/list answer without the tools the policy refuses; remembers their annotations."""
        if not isinstance(message, dict) or message.get("id") not in listing:
            return message
        result = message.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return message
        kept = []
        for tool in result["tools"]:
            name = str(tool.get("name", ""))
            self._annotations[upstream][name] = tool.get("annotations")
            if policies.judge(self.policy, name, tool.get("annotations")).allowed:
                kept.append(tool)
        return {**message, "result": {**result, "tools": kept}}

    async def post(self, request: web.Request) -> web.StreamResponse:
        upstream, url = self._upstream(request)
        body = await request.read()
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            return web.json_response(_error(None, -32700, "parse error: the body is not JSON"), status=400)
        messages = parsed if isinstance(parsed, list) else [parsed]
        session = request.headers.get("mcp-session-id")
        refusals = [r for m in messages if isinstance(m, dict) and (r := self._refusal(upstream, m, session))]
        if refusals:
            return web.json_response(refusals if isinstance(parsed, list) else refusals[0])
        listing = {m.get("id") for m in messages if isinstance(m, dict) and m.get("method") == "tools/list"}
        return await self._forward(
            request, upstream=upstream, url=url, method="POST", body=body, listing=listing
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """GET (the server's event stream) and DELETE (end of session), passed through."""
        upstream, url = self._upstream(request)
        return await self._forward(
            request, upstream=upstream, url=url, method=request.method, body=None, listing=set()
        )

    async def _forward(
        self,
        request: web.Request,
        *,
        upstream: str,
        url: str,
        method: str,
        body: bytes | None,
        listing: set[Any],
    ) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
        timeout = httpx.Timeout(
            self.options.timeout_seconds,
            connect=5,
            read=None if method == "GET" else self.options.timeout_seconds,
        )
        started = time.monotonic()
        try:
            answer = await self._client.send(
                self._client.build_request(method, url, headers=headers, content=body, timeout=timeout),
                stream=True,
            )
        except httpx.HTTPError as error:
            ERRORS.labels(upstream=upstream, kind=type(error).__name__).inc()
            logger.warning("upstream %s (%s) failed: %s: %s", upstream, url, type(error).__name__, error)
            return web.json_response(
                _error(
                    None,
                    UPSTREAM_FAILED,
                    f"upstream MCP server {upstream} is not reachable: {type(error).__name__}",
                ),
                status=502,
            )
        UPSTREAM_SECONDS.labels(upstream=upstream).observe(time.monotonic() - started)
        try:
            return await self._relay(request, upstream, answer, listing)
        finally:
            await answer.aclose()

    async def _relay(
        self, request: web.Request, upstream: str, answer: httpx.Response, listing: set[Any]
    ) -> web.StreamResponse:
        headers = {k: v for k, v in answer.headers.items() if k.lower() in FORWARDED_RESPONSE_HEADERS}
        content_type = answer.headers.get("content-type", "")
        if content_type.startswith("text/event-stream"):
            response = web.StreamResponse(status=answer.status_code, headers=headers)
            await response.prepare(request)
            try:
                async for event in _events(answer.aiter_lines()):
                    await response.write(self._rewrite_event(upstream, event, listing).encode())
            except httpx.HTTPError as error:
                ERRORS.labels(upstream=upstream, kind=type(error).__name__).inc()
                logger.warning("upstream %s stream broke: %s", upstream, error)
            return response
        payload = await answer.aread()
        if content_type.startswith("application/json") and listing and payload:
            message = json.loads(payload)
            filtered = (
                [self._filter(upstream, m, listing) for m in message]
                if isinstance(message, list)
                else self._filter(upstream, message, listing)
            )
            payload = json.dumps(filtered).encode()
        return web.Response(status=answer.status_code, body=payload, headers=headers)

    def _rewrite_event(self, upstream: str, event: list[str], listing: set[Any]) -> str:
        data = [line[5:].lstrip() for line in event if line.startswith("data:")]
        if listing and data:
            try:
                message = json.loads("\n".join(data))
            except json.JSONDecodeError:
                message = None
            if message is not None:
                filtered = json.dumps(self._filter(upstream, message, listing))
                event = [line for line in event if not line.startswith("data:")] + [f"data: {filtered}"]
        return "\n".join(event) + "\n\n"

    # The server.
    def app(self) -> web.Application:
        application = web.Application(client_max_size=self.options.max_body_bytes)
        application.router.add_post("/mcp/{upstream}", self.post)
        application.router.add_get("/mcp/{upstream}", self.stream)
        application.router.add_delete("/mcp/{upstream}", self.stream)
        application.router.add_get("/healthz", self.health)
        application.router.add_get("/metrics", self.metrics)
        return application

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"policy": self.policy.source, "upstreams": sorted(self.options.upstreams)})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=prometheus_client.generate_latest(), content_type="text/plain")

    async def close(self) -> None:
        await self._client.aclose()


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[list[str]]:
    """Server-Sent Events, each as its lines, from a stream of lines."""
    event: list[str] = []
    async for line in lines:
        if line == "":
            if event:
                yield event
            event = []
        else:
            event.append(line)
    if event:
        yield event


async def serve(options: Options) -> None:
    gateway = Gateway(options)
    gateway.reload()
    runner = web.AppRunner(gateway.app(), access_log=None)
    await runner.setup()
    host, _, port = options.listen.rpartition(":")
    await web.TCPSite(runner, host.strip("[]") or "0.0.0.0", int(port)).start()
    logger.info(
        "MCP gateway listening on %s for %s",
        options.listen,
        ", ".join(f"{name}={url}" for name, url in sorted(options.upstreams.items())),
    )
    reloading = asyncio.create_task(gateway.reload_forever())
    try:
        await asyncio.Event().wait()
    finally:
        reloading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reloading
        await runner.cleanup()
        await gateway.close()


def main(options: Options) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options))
    return 0
