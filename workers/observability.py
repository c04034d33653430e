"""Process-edge observability: structured logs (structlog) and the metrics HTTP endpoint.

Logs go through the standard library (every library's loggers included) and are rendered by
structlog: JSON lines in production, readable lines on a terminal. Context such as a request id
or a job id is bound with ``structlog.contextvars`` and appears on every line logged inside it.
"""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import start_http_server

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


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose ``/metrics`` for Prometheus from a worker process (a daemon thread)."""
    start_http_server(port, addr=host, registry=REGISTRY)
