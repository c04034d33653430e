"""Serve an ASGI app with uvicorn on a socket we bind ourselves, and stop it cleanly.

Binding first lets callers ask for port 0 and read the real port back before serving, and lets
us set TCP_NODELAY: without it every small answer waits for a delayed ACK (about 40 ms). uvicorn's
own signal handlers are disabled: the process that embeds the server decides about signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any, Literal

import uvicorn

log = logging.getLogger(__name__)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening, non-blocking TCP socket with TCP_NODELAY (port 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class LoopbackServer:
    """One ASGI app on one socket; ``start`` returns once it accepts connections."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "server",
        ws: str = "none",
        graceful_s: int = 1,
        backlog: int = 128,
        interface: Literal["auto", "asgi3", "asgi2", "wsgi"] = "auto",
        lifespan: Literal["on", "off"] = "off",
    ) -> None:
        self.app = app
        self.host = host
        self.port = 0
        self.name = name
        self._want_port = port
        self._ws = ws
        self._graceful_s = graceful_s
        self._backlog = backlog
        self._interface: Literal["auto", "asgi3", "asgi2", "wsgi"] = interface
        self._lifespan: Literal["on", "off"] = lifespan
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful ``start`` and ``stop``."""
        return self._task is not None and not self._task.done()

    async def start(self) -> int:
        """Bind and serve; returns the bound port."""
        sock = bind(self.host, self._want_port, self._backlog)
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan=self._lifespan,
            timeout_graceful_shutdown=self._graceful_s,
            ws=self._ws,
            # A bare ASGI callable (a bound method) is not always recognised by "auto".
            interface=self._interface,
        )
        self._server = _Uvicorn(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"{self.name} stopped during startup")
            await asyncio.sleep(0.005)
        log.debug("%s listening on %s", self.name, self.url)
        return self.port

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
