"""A loopback TCP forwarder between a client and a real server, for cutting the network.

``down()`` refuses new connections and aborts the open ones (a server or link gone: the client
sees resets and refusals at once); ``blackhole()`` accepts connections and forwards nothing
(packets dropped: the client waits until its own timeout); ``up()`` restores forwarding.
"""

from __future__ import annotations

import asyncio
import socket


class TcpProxy:
    """A loopback TCP forwarder that can be taken down (connections cut) and brought back."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._blackhole = False
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        """Connections accepted so far (forwarded or held)."""

    async def up(self) -> None:
        """Forward new connections to the target (connections a blackhole held are cut)."""
        if self._blackhole:
            self._blackhole = False
            await self._cut()
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def down(self) -> None:
        """Refuse new connections and abort every open one, in both directions."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._cut()

    async def blackhole(self) -> None:
        """Cut the open connections; accept new ones but never answer (until ``up``/``down``)."""
        await self.up()
        self._blackhole = True
        await self._cut()

    async def _cut(self) -> None:
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        for t in list(self._pipes):
            t.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._blackhole:
            self._writers.add(writer)  # held open, read by nobody, until the next cut
            return
        try:
            up_r, up_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_w})
        for src, dst in ((reader, up_w), (up_r, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            dst.transport.abort()
            self._writers.discard(dst)
