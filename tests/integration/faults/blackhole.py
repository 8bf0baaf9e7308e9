"""A loopback TCP forwarder to the real API server that can make its open connections go silent.

It forwards bytes (TLS stays end to end) and knows nothing of HTTP. ``silence()`` stops moving bytes
on every connection open at that moment without closing any, as a NAT table or a load balancer that
dropped its state does; connections made afterwards work. That is the fault a watch must detect by
itself, since no error ever arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class SilencingForwarder:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="forwarder", daemon=True)
        self._server: asyncio.Server | None = None
        self._generation = 0
        self._writers: list[asyncio.StreamWriter] = []

    def start(self) -> SilencingForwarder:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def silence(self) -> None:
        """From now on, connections opened before this call pass no byte in either direction."""
        self._loop.call_soon_threadsafe(self._next_generation)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _next_generation(self) -> None:
        self._generation += 1

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        born = self._generation
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        self._writers += [client_writer, upstream_writer]
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, born),
            self._pipe(upstream_reader, client_writer, born),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, born: int) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if self._generation != born:
                    await asyncio.Event().wait()  # silent: hold the connection open, pass nothing
                writer.write(data)
                await writer.drain()
        writer.close()
