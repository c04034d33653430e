"""Process-edge observability: structured logs (structlog) and the ops HTTP endpoint.

Logs go through the standard library (every library's loggers included) and are rendered by
structlog: JSON lines in production, readable lines on a terminal. Context such as a request id
or a job id is bound with ``structlog.contextvars`` and appears on every line logged inside it.

``--metrics-port`` serves, from a daemon thread (so it answers even while the event loop is
busy): ``/metrics`` (Prometheus), ``/ops/liveness`` (the process is up) and ``/ops/readiness``
(200, or 503 naming the failing checks, the same shape as the API's). A process reports its
state into :data:`READINESS` (``solai score``: the database as its writes see it, and whether
the consumer runs; ``solai ingest``: whether a provider is connected). The checks read state the
asyncio side keeps; they never do I/O from the server's thread.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import make_wsgi_app

from engine.observability.metrics import REGISTRY

_SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Route all logging through structlog; JSON unless writing to a terminal (or told)."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


Check = Callable[[], str]
"""Returns ``"ok"`` or a short reason (``"error: …"``); called from the server's thread."""


class Readiness:
    """Named readiness checks of one process."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._lock = threading.Lock()

    def add(self, name: str, check: Check) -> None:
        """Report ``check`` under ``name`` (replacing an earlier one of that name)."""
        with self._lock:
            self._checks[name] = check

    def remove(self, name: str) -> None:
        """Stop reporting ``name``."""
        with self._lock:
            self._checks.pop(name, None)

    def report(self) -> tuple[bool, dict[str, str]]:
        """(all ok, name → result); a check that raises reports its error."""
        with self._lock:
            checks = dict(self._checks)
        out: dict[str, str] = {}
        for name, check in checks.items():
            try:
                out[name] = check()
            except Exception as exc:
                out[name] = f"error: {type(exc).__name__}"
        return all(v == "ok" for v in out.values()), out


READINESS = Readiness()
"""The process's readiness, served at ``/ops/readiness`` by :func:`serve_metrics`."""


def ops_app(readiness: Readiness, registry: Any = REGISTRY) -> Callable[..., Iterable[bytes]]:
    """A WSGI app: ``/ops/liveness``, ``/ops/readiness``, and metrics on every other path."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/ops/liveness":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/ops/readiness":
            ok, checks = readiness.report()
            body = {"status": "ready" if ok else "degraded", "checks": checks}
            return _json(start_response, 200 if ok else 503, body)
        result: Iterable[bytes] = metrics(environ, start_response)
        return result

    return app


def _json(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body, sort_keys=True).encode()
    reason = "OK" if status == 200 else "Service Unavailable"
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the log: not logged."""


class OpsServer:
    """The ops endpoint of a worker process, served from a daemon thread."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", readiness: Readiness | None = None
    ) -> None:
        app = ops_app(READINESS if readiness is None else readiness)
        self._httpd = make_server(host, port, app, _Server, handler_class=_QuietHandler)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"ops-http-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def serve_metrics(port: int, host: str = "127.0.0.1") -> OpsServer:
    """Serve ``/metrics``, ``/ops/liveness`` and ``/ops/readiness`` (:data:`READINESS`)."""
    return OpsServer(port, host)
